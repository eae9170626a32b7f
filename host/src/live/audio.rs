//! The audio side of `lathe run`, whatever drives it: the [`Stage`] (engine, then monitor)
//! that runs one period, the [`AudioSide`] a backend calls from its audio thread, the
//! [`StageSender`] the control thread hands new stages over with, and the [`AudioStatus`]
//! the audio side reports through.
//!
//! A new stage (after a sample-rate change) arrives through a lock-free
//! queue and the old one goes back the same way, to be freed on the control thread. Every
//! backend (JACK, in-process) runs this same code, so what a test sees in-process is what
//! the JACK process callback does.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use lathe_engine::exec::MAX_HOST_CHANNELS;
use lathe_engine::{BusInfo, Engine, GraphInfo};

use super::monitor::{MAX_MONITOR_CHANNELS, Monitor, MonitorControls};
use super::web::scope::{ScopeReader, ScopeWriter, scope_ring};
use super::web::spectrum::{SpectrumReader, SpectrumWriter, spectrum_ring};

/// Stages in flight between the control thread and the audio side.
const STAGE_QUEUE: usize = 2;

/// What the audio thread runs: the engine and the monitor after it.
pub struct Stage {
    pub engine: Engine,
    pub monitor: Monitor,
    /// The soloed node output (`solo` on the console), one prepared block per channel.
    solo: Box<[f32]>,
}

impl Stage {
    pub fn new(engine: Engine, monitor: Monitor) -> Self {
        let solo = vec![0.0; MAX_MONITOR_CHANNELS * engine.max_block_frames()].into_boxed_slice();
        Self {
            engine,
            monitor,
            solo,
        }
    }

    /// An engine with a monitor for its graph's main buses.
    pub fn with_monitor(engine: Engine, info: &GraphInfo, controls: &Arc<MonitorControls>) -> Self {
        Self::new(engine, new_monitor(info, controls))
    }

    /// Runs the engine and the monitor on one period of any length: a period longer than
    /// the prepared block (the server's period grew) runs as several blocks, so a new
    /// period size needs no new engine. Real-time safe.
    fn process(
        &mut self,
        ins: &[&[f32]],
        outs: &mut [&mut [f32]],
        main: (Range<usize>, Range<usize>),
        frames: usize,
    ) {
        let block = self.engine.max_block_frames().max(1);
        let (in_count, out_count) = (
            ins.len().min(MAX_HOST_CHANNELS),
            outs.len().min(MAX_HOST_CHANNELS),
        );
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(block);
            let mut part_ins: [&[f32]; MAX_HOST_CHANNELS] = [&[]; MAX_HOST_CHANNELS];
            for (slot, ch) in part_ins.iter_mut().zip(ins) {
                *slot = &ch[done..done + n];
            }
            let mut part_outs: [&mut [f32]; MAX_HOST_CHANNELS] =
                std::array::from_fn(|_| Default::default());
            for (slot, ch) in part_outs.iter_mut().zip(outs.iter_mut()) {
                *slot = &mut ch[done..done + n];
            }
            self.process_block(
                &part_ins[..in_count],
                &mut part_outs[..out_count],
                main.clone(),
                n,
            );
            done += n;
        }
    }

    /// Runs the engine and the monitor on at most one prepared block.
    fn process_block(
        &mut self,
        ins: &[&[f32]],
        outs: &mut [&mut [f32]],
        main: (Range<usize>, Range<usize>),
        frames: usize,
    ) {
        let block = self.engine.max_block_frames();
        let mut solo: [&mut [f32]; MAX_MONITOR_CHANNELS] =
            std::array::from_fn(|_| Default::default());
        for (slot, chunk) in solo.iter_mut().zip(self.solo.chunks_mut(block)) {
            *slot = &mut chunk[..frames];
        }
        let tapped = self.engine.process_tapped(ins, outs, &mut solo, frames);
        let solo: [&[f32]; MAX_MONITOR_CHANNELS] = solo.map(|s| &*s);
        let main_in = ins.get(main.0).unwrap_or(&[]);
        if let Some(main_out) = outs.get_mut(main.1) {
            self.monitor
                .process(main_in, main_out, &solo[..tapped], frames);
        }
    }
}

/// A monitor for a graph's main buses.
pub fn new_monitor(info: &GraphInfo, controls: &Arc<MonitorControls>) -> Monitor {
    let width = |b: &[BusInfo]| main_bus(b).map_or(0, |(_, r)| r.len());
    Monitor::new(
        controls.clone(),
        width(&info.inputs),
        width(&info.outputs),
        info.prepare.sample_rate_hz,
    )
}

/// What the audio side reports to the control thread: written by the backend (its
/// format, xruns, shutdown) and by [`AudioSide::process`] (the time it takes).
#[derive(Debug, Default)]
pub struct AudioStatus {
    pub xruns: AtomicU64,
    /// The audio side stopped by itself (the JACK server went away, an in-process run
    /// was ended): the run is over.
    pub shutdown: AtomicBool,
    /// Most frames per period the backend runs at now.
    pub buffer_size: AtomicU32,
    pub sample_rate: AtomicU32,
    /// lathe's own time in the process callback (engine and monitor), measured around
    /// it: what lathe costs, apart from the server's scheduling and context switches
    /// that JACK's DSP load also counts.
    pub process: ProcessTime,
}

impl AudioStatus {
    /// A status for a backend starting at this format.
    pub fn new(sample_rate_hz: u32, buffer_frames: u32) -> Arc<Self> {
        let status = Self::default();
        status.buffer_size.store(buffer_frames, Ordering::Relaxed);
        status.sample_rate.store(sample_rate_hz, Ordering::Relaxed);
        Arc::new(status)
    }

    /// The sample rate and period size the backend runs at now.
    pub fn format(&self) -> (u32, u32) {
        (
            self.sample_rate.load(Ordering::Acquire),
            self.buffer_size.load(Ordering::Acquire),
        )
    }
}

/// Time spent in lathe's process callback, accumulated by the audio thread.
#[derive(Debug, Default)]
pub struct ProcessTime {
    pub total_ns: AtomicU64,
    pub periods: AtomicU64,
    pub max_ns: AtomicU64,
    /// Periods whose processing alone took longer than the period lasts: the xruns
    /// lathe itself would cause.
    pub over_budget: AtomicU64,
    /// Length of the last period, in ns.
    pub period_ns: AtomicU64,
}

impl ProcessTime {
    /// Records one callback. Real-time safe (relaxed atomics).
    fn record(&self, spent_ns: u64, period_ns: u64) {
        self.total_ns.fetch_add(spent_ns, Ordering::Relaxed);
        self.periods.fetch_add(1, Ordering::Relaxed);
        self.max_ns.fetch_max(spent_ns, Ordering::Relaxed);
        self.period_ns.store(period_ns, Ordering::Relaxed);
        if spent_ns > period_ns {
            self.over_budget.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Mean processing time as a percentage of the period.
    pub fn mean_load_percent(&self) -> f32 {
        let periods = self.periods.load(Ordering::Relaxed).max(1);
        let mean_ns = self.total_ns.load(Ordering::Relaxed) as f64 / periods as f64;
        let period_ns = (self.period_ns.load(Ordering::Relaxed) as f64).max(1.0);
        (100.0 * mean_ns / period_ns) as f32
    }

    /// `mean X us, max Y us per Z us period (A% / B%), N periods over budget`.
    pub fn describe(&self) -> String {
        let periods = self.periods.load(Ordering::Relaxed).max(1);
        let mean_us = self.total_ns.load(Ordering::Relaxed) as f64 / periods as f64 / 1e3;
        let max_us = self.max_ns.load(Ordering::Relaxed) as f64 / 1e3;
        let period_us = (self.period_ns.load(Ordering::Relaxed) as f64 / 1e3).max(1e-3);
        format!(
            "lathe's own processing mean {mean_us:.1} us ({:.2}% of the {period_us:.0} us period), \
             max {max_us:.1} us ({:.1}%); {} periods over budget",
            100.0 * mean_us / period_us,
            100.0 * max_us / period_us,
            self.over_budget.load(Ordering::Relaxed)
        )
    }
}

/// The audio thread's end: the running stage and the queues to the control thread. A
/// backend calls [`AudioSide::process`] once per period.
pub struct AudioSide {
    stage: Box<Stage>,
    /// A replaced stage waiting for room in the return queue.
    pending_old: Option<Box<Stage>>,
    stages: rtrb::Consumer<Box<Stage>>,
    old_stages: rtrb::Producer<Box<Stage>>,
    main_in: Range<usize>,
    main_out: Range<usize>,
    status: Arc<AudioStatus>,
    /// The main output's left/right pairs for the web console's goniometer.
    scope: ScopeWriter,
    /// Every frame of the main output's left/right pair, for the web console's spectrum.
    spectrum: SpectrumWriter,
}

/// The control thread's end: hands new stages to the audio side and frees old ones.
pub struct StageSender {
    stages: rtrb::Producer<Box<Stage>>,
    old_stages: rtrb::Consumer<Box<Stage>>,
    /// The goniometer ring's reading end, until the web console takes it.
    pub scope: Option<ScopeReader>,
    /// The spectrum ring's reading end, until the web console takes it.
    pub spectrum: Option<SpectrumReader>,
}

/// The two ends for a graph with `info`'s buses, starting with `stage`.
pub fn audio_side(
    stage: Box<Stage>,
    info: &GraphInfo,
    status: Arc<AudioStatus>,
) -> (AudioSide, StageSender) {
    let (stage_tx, stage_rx) = rtrb::RingBuffer::new(STAGE_QUEUE);
    let (old_tx, old_rx) = rtrb::RingBuffer::new(STAGE_QUEUE + 1);
    let (scope_tx, scope_rx) = scope_ring();
    let (spectrum_tx, spectrum_rx) = spectrum_ring();
    let audio = AudioSide {
        stage,
        pending_old: None,
        stages: stage_rx,
        old_stages: old_tx,
        main_in: main_bus(&info.inputs).map_or(0..0, |(_, r)| r),
        main_out: main_bus(&info.outputs).map_or(0..0, |(_, r)| r),
        status,
        scope: scope_tx,
        spectrum: spectrum_tx,
    };
    let sender = StageSender {
        stages: stage_tx,
        old_stages: old_rx,
        scope: Some(scope_rx),
        spectrum: Some(spectrum_rx),
    };
    (audio, sender)
}

impl AudioSide {
    /// Runs one period of `frames` frames: takes a new stage if one is waiting, runs the
    /// engine and the monitor, and records the time it took. Real-time safe.
    pub fn process(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) {
        let started = Instant::now();
        self.take_new_stage();
        let main = (self.main_in.clone(), self.main_out.clone());
        self.stage.process(ins, outs, main, frames);
        if let [left, right] = outs.get(self.main_out.clone()).unwrap_or(&[]) {
            self.scope.write(&left[..frames], &right[..frames]);
            self.spectrum.write(&left[..frames], &right[..frames]);
        }
        let rate = u64::from(self.status.sample_rate.load(Ordering::Relaxed)).max(1);
        let spent_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.status
            .process
            .record(spent_ns, frames as u64 * 1_000_000_000 / rate);
    }

    /// Takes a new stage if one is waiting, sending the old one back. Real-time safe.
    fn take_new_stage(&mut self) {
        if let Some(old) = self.pending_old.take()
            && let Err(rtrb::PushError::Full(old)) = self.old_stages.push(old)
        {
            self.pending_old = Some(old);
            return;
        }
        if let Ok(new) = self.stages.pop() {
            let old = std::mem::replace(&mut self.stage, new);
            if let Err(rtrb::PushError::Full(old)) = self.old_stages.push(old) {
                self.pending_old = Some(old);
            }
        }
    }
}

impl StageSender {
    /// Hands a new stage to the audio side; gives it back if the queue is full.
    pub fn send(&mut self, stage: Box<Stage>) -> Result<(), Box<Stage>> {
        match self.stages.push(stage) {
            Ok(()) => Ok(()),
            Err(rtrb::PushError::Full(stage)) => Err(stage),
        }
    }

    /// Frees stages the audio side has finished with.
    pub fn collect(&mut self) {
        while let Ok(old) = self.old_stages.pop() {
            drop(old);
        }
    }
}

/// Port short names for the buses, `<bus>_in_<n>` / `<bus>_out_<n>` (1-based).
pub fn port_names(buses: &[BusInfo], side: &str) -> Vec<String> {
    buses
        .iter()
        .flat_map(|b| (1..=b.channels).map(move |n| format!("{}_{side}_{n}", b.name)))
        .collect()
}

/// The channels of the main bus (`main`, else the first) among all host channels.
pub fn main_bus(buses: &[BusInfo]) -> Option<(usize, Range<usize>)> {
    let index = buses
        .iter()
        .position(|b| b.name == lathe_engine::graph::file::DEFAULT_BUS)
        .or(if buses.is_empty() { None } else { Some(0) })?;
    let start: usize = buses[..index].iter().map(|b| b.channels).sum();
    Some((index, start..start + buses[index].channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus(name: &str, channels: usize) -> BusInfo {
        BusInfo {
            name: name.into(),
            channels,
        }
    }

    #[test]
    fn ports_are_named_per_bus_channel_and_main_is_found() {
        let buses = [bus("key", 1), bus("main", 2)];
        assert_eq!(
            port_names(&buses, "in"),
            ["key_in_1", "main_in_1", "main_in_2"]
        );
        assert_eq!(main_bus(&buses), Some((1, 1..3)));
        assert_eq!(main_bus(&[bus("stems", 4)]), Some((0, 0..4)));
        assert_eq!(main_bus(&[]), None);
    }
}
