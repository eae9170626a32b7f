//! The monitor section: what the listener hears after the graph, never what the graph
//! computes. Loudness-matched A/B against the unprocessed input, mono sum, side solo and
//! dim, every switch ramped so it never clicks.
//!
//! The audio half ([`Monitor`]) runs in the JACK process callback: it allocates only in
//! `new`. The control half ([`MonitorControls`]) is a set of atomics any thread may flip.
//! Codec listening is in [`codec`].

pub mod codec;

pub mod reference;

use lathe_nodes::dsp::bs1770::kweight::{KFilterState, KWeighting};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// How long a monitor switch takes to fade.
pub const SWITCH_RAMP_MS: f64 = 20.0;
/// How long a loudness-match gain change takes to glide.
pub const MATCH_RAMP_MS: f64 = 100.0;
/// Dim level.
pub const DIM_DB: f32 = -20.0;
/// Window of the short-term loudness trackers (as in EBU R128 short-term loudness).
pub const SHORT_TERM_S: f64 = 3.0;
/// The trackers add up squares in slots this long; the window slides by one slot.
const SLOT_S: f64 = 0.1;
/// Below this a side is treated as silent and left unmatched.
const MATCH_GATE_LUFS: f32 = -70.0;
/// Longest graph latency the unprocessed path is delayed by to stay aligned (frames).
pub const MAX_DRY_DELAY_FRAMES: usize = 1 << 17;

/// Bytes of the smallest memory page a buffer may be mapped in.
const PAGE_BYTES: usize = 4096;

/// Writes every page of `buf` once, off the audio thread, so that the audio thread never
/// takes a page fault the first time it touches a part of it: a large zeroed allocation
/// is mapped lazily, the kernel supplying each page at its first write, which costs a
/// microsecond on a quiet machine and can stall for milliseconds when memory is short.
/// The contents are unchanged.
fn prefault(buf: &mut [f32]) {
    let step = PAGE_BYTES / std::mem::size_of::<f32>();
    for i in (0..buf.len()).step_by(step) {
        // SAFETY: `i < buf.len()`, so the pointer is valid and aligned. Volatile, so that
        // rewriting the value a zeroed allocation already holds is not optimised away.
        unsafe {
            let p = buf.as_mut_ptr().add(i);
            std::ptr::write_volatile(p, std::ptr::read_volatile(p));
        }
    }
}

/// Monitor switches, shared between the control threads and the process callback.
#[derive(Debug, Default)]
pub struct MonitorControls {
    /// Listen to the unprocessed input instead of the graph's output.
    pub ab: AtomicBool,
    /// Turn the louder of processed and unprocessed down to the other's loudness.
    pub match_loudness: AtomicBool,
    pub mono: AtomicBool,
    pub side: AtomicBool,
    pub dim: AtomicBool,
    /// Hear the node output chosen with `solo` instead of the graph's output.
    pub solo: AtomicBool,
    /// Graph latency, so the unprocessed input lines up with the processed output.
    pub latency_frames: AtomicU32,
    /// Codec listening (`monitor codec opus:128`).
    pub codec: codec::CodecControl,
    /// Short-term loudness of the processed and unprocessed main bus (f32 bits).
    wet_lufs: AtomicU32,
    dry_lufs: AtomicU32,
    /// The reference (`monitor ref`): its switch and its player's queues.
    pub reference: reference::RefLink,
}

/// A monitor switch by name, as typed on the console and sent over OSC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Ab,
    Match,
    Mono,
    Side,
    Dim,
}

impl Switch {
    pub const NAMES: &[&str] = &["ab", "match", "mono", "side", "dim"];

    pub fn parse(name: &str) -> Option<Switch> {
        Some(match name {
            "ab" => Switch::Ab,
            "match" => Switch::Match,
            "mono" => Switch::Mono,
            "side" => Switch::Side,
            "dim" => Switch::Dim,
            _ => return None,
        })
    }
}

impl MonitorControls {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            wet_lufs: AtomicU32::new(f32::NEG_INFINITY.to_bits()),
            dry_lufs: AtomicU32::new(f32::NEG_INFINITY.to_bits()),
            ..Self::default()
        })
    }

    fn flag(&self, s: Switch) -> &AtomicBool {
        match s {
            Switch::Ab => &self.ab,
            Switch::Match => &self.match_loudness,
            Switch::Mono => &self.mono,
            Switch::Side => &self.side,
            Switch::Dim => &self.dim,
        }
    }

    /// Sets a switch. Turning A/B on also turns loudness matching on, so that flipping
    /// back and forth compares at equal loudness from then on (`match off` to stop).
    pub fn set(&self, s: Switch, on: bool) {
        self.flag(s).store(on, Ordering::Relaxed);
        if s == Switch::Ab && on {
            self.match_loudness.store(true, Ordering::Relaxed);
        }
    }

    pub fn get(&self, s: Switch) -> bool {
        self.flag(s).load(Ordering::Relaxed)
    }

    /// Short-term loudness (LUFS) of the processed and the unprocessed main bus.
    pub fn loudness(&self) -> (f32, f32) {
        (
            f32::from_bits(self.wet_lufs.load(Ordering::Relaxed)),
            f32::from_bits(self.dry_lufs.load(Ordering::Relaxed)),
        )
    }

    /// Active switches as text (`ab match dim`), or `off`.
    pub fn describe(&self) -> String {
        let on: Vec<&str> = Switch::NAMES
            .iter()
            .filter(|n| Switch::parse(n).is_some_and(|s| self.get(s)))
            .copied()
            .collect();
        if on.is_empty() {
            "off".to_string()
        } else {
            on.join(" ")
        }
    }
}

/// Short-term loudness of a bus: K-weighted mean square over a sliding 3 s window, kept
/// as sums over 100 ms slots so each sample costs two biquads and an add. The K-weighting
/// is the loudness meters' own (`lathe_nodes::dsp::bs1770`).
#[derive(Debug)]
struct LoudnessTracker {
    k_weighting: KWeighting,
    filters: Box<[KFilterState]>,
    slots: Box<[f64]>,
    slot: usize,
    filled_slots: usize,
    slot_frames: usize,
    frames_in_slot: usize,
    current: f64,
}

impl LoudnessTracker {
    fn new(channels: usize, sample_rate_hz: f64) -> Self {
        let slot_frames = ((SLOT_S * sample_rate_hz).round() as usize).max(1);
        let slot_count = (SHORT_TERM_S / SLOT_S).round() as usize;
        Self {
            k_weighting: KWeighting::new(sample_rate_hz),
            filters: vec![KFilterState::default(); channels].into_boxed_slice(),
            slots: vec![0.0; slot_count].into_boxed_slice(),
            slot: 0,
            filled_slots: 0,
            slot_frames,
            frames_in_slot: 0,
            current: 0.0,
        }
    }

    /// Adds one frame (`frame[c]` for each channel the tracker was made for).
    fn push(&mut self, frame: &[f32]) {
        for (f, x) in self.filters.iter_mut().zip(frame) {
            self.current += f.energy(&self.k_weighting, std::slice::from_ref(x));
        }
        self.frames_in_slot += 1;
        if self.frames_in_slot == self.slot_frames {
            if let Some(s) = self.slots.get_mut(self.slot) {
                *s = self.current;
            }
            self.slot = (self.slot + 1) % self.slots.len().max(1);
            self.filled_slots = (self.filled_slots + 1).min(self.slots.len());
            self.current = 0.0;
            self.frames_in_slot = 0;
        }
    }

    /// LUFS over the window (over what has been seen, during the first 3 s).
    fn lufs(&self) -> f32 {
        if self.filled_slots == 0 {
            return f32::NEG_INFINITY;
        }
        let sum: f64 = self.slots.iter().sum();
        let mean = sum / (self.filled_slots * self.slot_frames) as f64;
        if mean <= 0.0 {
            f32::NEG_INFINITY
        } else {
            (-0.691 + 10.0 * mean.log10()) as f32
        }
    }
}

/// A linear ramp towards a target, one step per sample.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ramp {
    pub(super) value: f32,
    pub(super) target: f32,
    step: f32,
    frames: f32,
}

impl Ramp {
    pub(super) fn new(value: f32, frames: usize) -> Self {
        Self {
            value,
            target: value,
            step: 0.0,
            frames: frames.max(1) as f32,
        }
    }

    pub(super) fn set_target(&mut self, target: f32) {
        self.set_target_over(target, self.frames);
    }

    /// Jumps to `target` (for a side nobody hears at the moment).
    pub(super) fn snap(&mut self, target: f32) {
        self.value = target;
        self.target = target;
        self.step = 0.0;
    }

    /// Like `set_target`, over `frames` instead of the ramp's own length.
    fn set_target_over(&mut self, target: f32, frames: f32) {
        if target != self.target {
            self.target = target;
            self.step = (target - self.value) / frames.max(1.0);
        }
    }

    pub(super) fn next(&mut self) -> f32 {
        if self.value != self.target {
            self.value += self.step;
            if (self.step > 0.0 && self.value >= self.target)
                || (self.step <= 0.0 && self.value <= self.target)
            {
                self.value = self.target;
            }
        }
        self.value
    }
}

/// Most channels the monitor handles on the main bus (more are passed through untouched).
pub const MAX_MONITOR_CHANNELS: usize = 8;

/// The audio half of the monitor section, for the graph's main bus.
#[derive(Debug)]
pub struct Monitor {
    controls: Arc<MonitorControls>,
    channels: usize,
    /// The main input bus has as many channels as the main output: A/B is possible.
    has_dry: bool,
    dry_delay: Box<[f32]>,
    write: usize,
    wet_tracker: LoudnessTracker,
    dry_tracker: LoudnessTracker,
    ab: Ramp,
    mono: Ramp,
    side: Ramp,
    dim: Ramp,
    solo: Ramp,
    wet_gain: Ramp,
    dry_gain: Ramp,
    /// Loudness matching was engaged at the last block.
    matching: bool,
    switch_frames: f32,
    reference: reference::RefPlayer,
    codec: codec::MonitorCodec,
}

impl Monitor {
    /// A monitor for a main output bus of `out_channels` fed by a main input bus of
    /// `in_channels`. Allocates its delay line and trackers here.
    pub fn new(
        controls: Arc<MonitorControls>,
        in_channels: usize,
        out_channels: usize,
        sample_rate_hz: f64,
    ) -> Self {
        let channels = out_channels.min(MAX_MONITOR_CHANNELS);
        let has_dry = in_channels == out_channels && channels > 0;
        let switch_frames = (SWITCH_RAMP_MS * 0.001 * sample_rate_hz).round() as usize;
        let match_frames = (MATCH_RAMP_MS * 0.001 * sample_rate_hz).round() as usize;
        let mut dry_delay = vec![
            0.0;
            if has_dry {
                channels * MAX_DRY_DELAY_FRAMES
            } else {
                0
            }
        ]
        .into_boxed_slice();
        // 1 MiB for a stereo bus: touched here, not page by page on the audio thread over
        // its first seconds.
        prefault(&mut dry_delay);
        let reference = reference::RefPlayer::new(controls.clone(), channels, sample_rate_hz);
        let codec = codec::MonitorCodec::new(
            &controls,
            channels,
            sample_rate_hz,
            switch_frames,
            match_frames,
        );
        Self {
            controls,
            channels,
            has_dry,
            dry_delay,
            write: 0,
            wet_tracker: LoudnessTracker::new(channels, sample_rate_hz),
            dry_tracker: LoudnessTracker::new(channels, sample_rate_hz),
            ab: Ramp::new(0.0, switch_frames),
            mono: Ramp::new(0.0, switch_frames),
            side: Ramp::new(0.0, switch_frames),
            dim: Ramp::new(1.0, switch_frames),
            solo: Ramp::new(0.0, switch_frames),
            wet_gain: Ramp::new(1.0, match_frames),
            dry_gain: Ramp::new(1.0, match_frames),
            matching: false,
            switch_frames: switch_frames.max(1) as f32,
            reference,
            codec,
        }
    }

    /// Processes `frames` frames in place on `main_out`, with `main_in` the unprocessed
    /// main input and `solo` the soloed node output (empty when none): while solo is on it
    /// takes the place of the graph's output (a mono port feeds every channel), before
    /// A/B and the other switches. Loudness matching keeps measuring the graph's output.
    /// Real-time safe.
    pub fn process(
        &mut self,
        main_in: &[&[f32]],
        main_out: &mut [&mut [f32]],
        solo: &[&[f32]],
        frames: usize,
    ) {
        // The codec takes chunks of at most CODEC_CHUNK_FRAMES; cut longer blocks up.
        let (i_n, o_n, s_n) = (
            main_in.len().min(MAX_MONITOR_CHANNELS),
            main_out.len().min(MAX_MONITOR_CHANNELS),
            solo.len().min(MAX_MONITOR_CHANNELS),
        );
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(codec::CODEC_CHUNK_FRAMES);
            let mut ins: [&[f32]; MAX_MONITOR_CHANNELS] = [&[]; MAX_MONITOR_CHANNELS];
            for (slot, ch) in ins.iter_mut().zip(main_in) {
                *slot = ch.get(done..done + n).unwrap_or(&[]);
            }
            let mut solos: [&[f32]; MAX_MONITOR_CHANNELS] = [&[]; MAX_MONITOR_CHANNELS];
            for (slot, ch) in solos.iter_mut().zip(solo) {
                *slot = ch.get(done..done + n).unwrap_or(&[]);
            }
            let mut outs: [&mut [f32]; MAX_MONITOR_CHANNELS] =
                std::array::from_fn(|_| Default::default());
            for (slot, ch) in outs.iter_mut().zip(main_out.iter_mut()) {
                *slot = ch.get_mut(done..done + n).unwrap_or_default();
            }
            self.process_chunk(&ins[..i_n], &mut outs[..o_n], &solos[..s_n], n);
            done += n;
        }
    }

    fn process_chunk(
        &mut self,
        main_in: &[&[f32]],
        main_out: &mut [&mut [f32]],
        solo: &[&[f32]],
        frames: usize,
    ) {
        self.set_match_targets();
        let c = &self.controls;
        let heard_lufs = self.wet_tracker.lufs() + lathe_engine::gain_to_db(self.wet_gain.target);
        self.reference
            .begin_block(c.match_loudness.load(Ordering::Relaxed), heard_lufs);
        let flag = |f: &AtomicBool| if f.load(Ordering::Relaxed) { 1.0 } else { 0.0 };
        self.ab
            .set_target(if self.has_dry { flag(&c.ab) } else { 0.0 });
        let stereo = self.channels == 2;
        self.mono
            .set_target(if stereo { flag(&c.mono) } else { 0.0 });
        self.side
            .set_target(if stereo { flag(&c.side) } else { 0.0 });
        let soloing = c.solo.load(Ordering::Relaxed) && !solo.is_empty();
        self.solo.set_target(if soloing { 1.0 } else { 0.0 });
        self.dim.set_target(if c.dim.load(Ordering::Relaxed) {
            lathe_engine::db_to_gain(DIM_DB)
        } else {
            1.0
        });
        let delay =
            (c.latency_frames.load(Ordering::Relaxed) as usize).min(MAX_DRY_DELAY_FRAMES - 1);
        let n = self.channels;
        let frames = main_out
            .iter()
            .take(n)
            .map(|ch| ch.len())
            .chain(main_in.iter().take(n).map(|ch| ch.len()))
            .chain(solo.iter().map(|ch| ch.len()))
            .fold(frames, usize::min);
        self.codec
            .prepare(c, &main_out[..n.min(main_out.len())], frames);
        let coded_delay = (delay + self.codec.latency_frames()).min(MAX_DRY_DELAY_FRAMES - 1);
        let mut wet = [0.0f32; MAX_MONITOR_CHANNELS];
        let mut dry = [0.0f32; MAX_MONITOR_CHANNELS];
        for i in 0..frames {
            for ch in 0..n {
                wet[ch] = main_out[ch][i];
            }
            let coded = self.codec.next_mix();
            if self.has_dry {
                let read = (self.write + MAX_DRY_DELAY_FRAMES - delay) % MAX_DRY_DELAY_FRAMES;
                // While the codec is heard, the unprocessed side is read as late as it.
                let read_coded =
                    (self.write + MAX_DRY_DELAY_FRAMES - coded_delay) % MAX_DRY_DELAY_FRAMES;
                for ch in 0..n {
                    let line =
                        &mut self.dry_delay[ch * MAX_DRY_DELAY_FRAMES..][..MAX_DRY_DELAY_FRAMES];
                    line[self.write] = main_in[ch][i];
                    dry[ch] = line[read] * (1.0 - coded) + line[read_coded] * coded;
                }
                self.write = (self.write + 1) % MAX_DRY_DELAY_FRAMES;
                self.dry_tracker.push(&dry[..n]);
            }
            self.wet_tracker.push(&wet[..n]);
            self.codec.apply(&mut wet[..n], i, coded);
            let s = self.solo.next();
            if s > 0.0 && !solo.is_empty() {
                for ch in 0..n {
                    wet[ch] = wet[ch] * (1.0 - s) + solo[ch % solo.len()][i] * s;
                }
            }
            let (ab, gw, gd) = (self.ab.next(), self.wet_gain.next(), self.dry_gain.next());
            let mut x = [0.0f32; MAX_MONITOR_CHANNELS];
            for ch in 0..n {
                x[ch] = wet[ch] * gw * (1.0 - ab) + dry[ch] * gd * ab;
            }
            self.reference.mix(&mut x[..n]);
            let (km, ks, dim) = (self.mono.next(), self.side.next(), self.dim.next());
            if stereo {
                let mid = 0.5 * (x[0] + x[1]);
                let side = 0.5 * (x[0] - x[1]);
                for v in &mut x[..2] {
                    *v = (*v * (1.0 - km) + mid * km) * (1.0 - ks) + side * ks;
                }
            }
            for ch in 0..n {
                main_out[ch][i] = x[ch] * dim;
            }
        }
        self.reference.end_block();
        c.wet_lufs
            .store(self.wet_tracker.lufs().to_bits(), Ordering::Relaxed);
        c.dry_lufs
            .store(self.dry_tracker.lufs().to_bits(), Ordering::Relaxed);
    }

    /// The louder side is turned down by the difference of short-term loudness.
    fn set_match_targets(&mut self) {
        let (wet, dry) = (self.wet_tracker.lufs(), self.dry_tracker.lufs());
        let matching = self.has_dry
            && self.controls.match_loudness.load(Ordering::Relaxed)
            && wet > MATCH_GATE_LUFS
            && dry > MATCH_GATE_LUFS;
        let diff_db = if matching { wet - dry } else { 0.0 };
        let wet_target = lathe_engine::db_to_gain(-diff_db.max(0.0));
        let dry_target = lathe_engine::db_to_gain(diff_db.min(0.0));
        if matching == self.matching {
            // Following the trackers: glide slowly.
            self.wet_gain.set_target(wet_target);
            self.dry_gain.set_target(dry_target);
        } else {
            // Engaged or released: a side not heard right now jumps (so the unprocessed side
            // fading in with `ab on` is matched from its first sample); a side heard moves
            // as fast as a switch.
            let frames = self.switch_frames;
            for (gain, target, heard) in [
                (&mut self.wet_gain, wet_target, self.ab.value < 1.0),
                (&mut self.dry_gain, dry_target, self.ab.value > 0.0),
            ] {
                if heard {
                    gain.set_target_over(target, frames);
                } else {
                    gain.snap(target);
                }
            }
            self.matching = matching;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = 48_000.0;

    fn sine(freq_hz: f64, amp: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / RATE).sin() as f32)
            .collect()
    }

    /// A 997 Hz sine at -20 dBFS in both channels reads -20 LUFS within 0.1 LU
    /// (K-weighting is +0.7 dB at 1 kHz, cancelled by the -0.691 offset for a stereo pair
    /// of the same sine: -23.01 + 3.01 + 0.69 - 0.69).
    #[test]
    fn tracker_reads_sine_loudness() {
        let x = sine(997.0, 0.1, (RATE * 3.0) as usize);
        let mut t = LoudnessTracker::new(2, RATE);
        for &s in &x {
            t.push(&[s, s]);
        }
        let lufs = t.lufs();
        assert!((lufs - -20.0).abs() < 0.1, "{lufs}");
    }

    fn run(mon: &mut Monitor, input: &[Vec<f32>], output: &mut [Vec<f32>], block: usize) {
        let frames = output[0].len();
        let mut done = 0;
        while done < frames {
            let n = block.min(frames - done);
            let ins: Vec<&[f32]> = input.iter().map(|c| &c[done..done + n]).collect();
            let mut outs: Vec<&mut [f32]> =
                output.iter_mut().map(|c| &mut c[done..done + n]).collect();
            mon.process(&ins, &mut outs, &[], n);
            done += n;
        }
    }

    /// With A/B on, a dry signal 6 dB quieter than the processed one is heard as it is
    /// and the processed side is turned down 6 dB (within 0.2 dB) once the trackers settle;
    /// switching never steps the output by more than a ramp allows.
    #[test]
    fn ab_matches_loudness_without_clicks() {
        let controls = MonitorControls::new();
        let mut mon = Monitor::new(controls.clone(), 2, 2, RATE);
        let frames = (RATE * 4.0) as usize;
        let dry = sine(1000.0, 0.25, frames);
        let input = vec![dry.clone(), dry.clone()];
        let wet: Vec<f32> = dry.iter().map(|x| x * 2.0).collect();
        let mut out = vec![wet.clone(), wet.clone()];
        controls.set(Switch::Ab, true);
        run(&mut mon, &input, &mut out, 256);
        let (w, d) = controls.loudness();
        assert!((w - d - 6.02).abs() < 0.1, "wet {w} dry {d}");
        let tail = &out[0][frames - 4800..];
        let peak = tail.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!((peak - 0.25).abs() < 0.25 * 0.03, "{peak}");
        // Back to processed: it is heard at the dry's loudness, not 6 dB louder.
        controls.set(Switch::Ab, false);
        let mut out2 = vec![wet.clone(), wet];
        run(&mut mon, &input, &mut out2, 64);
        let peak = out2[0][..4800].iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak < 0.25 * 1.03, "{peak}");
        let max_step = out2[0]
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        // A 1 kHz sine at 0.25 moves at most 0.033 per sample.
        assert!(max_step < 0.035, "{max_step}");
    }

    /// Minor page faults of the calling thread so far, from `/proc/thread-self/stat`
    /// (Linux; None elsewhere).
    fn thread_minor_faults() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        // After the command (in parentheses), fields count from 3 (state); minflt is 10.
        let fields = &stat[stat.rfind(')')? + 2..];
        fields.split(' ').nth(10 - 3)?.parse().ok()
    }

    /// The monitor's audio path takes no page fault as its 1 MiB A/B delay line fills:
    /// the line is touched when the monitor is made, off the audio thread. (Before, the
    /// audio thread took a first-touch fault every 1024 frames of each channel over the
    /// first 2.7 s of a run, 256 in all: each one a stall when memory is short.)
    #[test]
    fn the_audio_path_takes_no_page_fault() {
        if thread_minor_faults().is_none() {
            eprintln!("notice: no /proc/thread-self/stat; skipping the page-fault count");
            return;
        }
        let mut mon = Monitor::new(MonitorControls::new(), 2, 2, RATE);
        let input = [0.25f32; 64];
        let (mut left, mut right) = ([0.5f32; 64], [0.5f32; 64]);
        let before = thread_minor_faults().expect("read before");
        for _ in 0..MAX_DRY_DELAY_FRAMES / 64 + 16 {
            mon.process(&[&input, &input], &mut [&mut left, &mut right], &[], 64);
        }
        let faults = thread_minor_faults().expect("read after") - before;
        // Reading the stat file itself may fault once or twice.
        assert!(faults <= 4, "{faults} page faults on the audio path");
    }

    /// Mono sums and side solo keeps only the difference; dim is -20 dB.
    #[test]
    fn mono_side_and_dim() {
        let controls = MonitorControls::new();
        let mut mon = Monitor::new(controls.clone(), 2, 2, RATE);
        let frames = 4800;
        let input = vec![vec![0.0; frames], vec![0.0; frames]];
        let mut out = vec![vec![0.5; frames], vec![0.1; frames]];
        controls.set(Switch::Mono, true);
        run(&mut mon, &input, &mut out, 128);
        assert!((out[0][frames - 1] - 0.3).abs() < 1e-6 && (out[1][frames - 1] - 0.3).abs() < 1e-6);
        controls.set(Switch::Mono, false);
        controls.set(Switch::Side, true);
        controls.set(Switch::Dim, true);
        let mut out = vec![vec![0.5; frames], vec![0.1; frames]];
        run(&mut mon, &input, &mut out, 128);
        assert!(
            (out[0][frames - 1] - 0.02).abs() < 1e-6,
            "{}",
            out[0][frames - 1]
        );
        let steps = out[0]
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max);
        assert!(steps < 0.5 / 900.0, "{steps}");
    }
}
