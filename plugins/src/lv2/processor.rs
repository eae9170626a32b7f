//! The audio-thread half of an `lv2` node: the plugin instance with every buffer it is
//! connected to, sized at build. `process` connects the node's audio slices, clears the
//! event buffers and calls the plugin's `run`; nothing of lathe's allocates around it.

use crate::crash::CrashLabel;
use std::ffi::c_void;

use lathe_engine::{Io, ParamId, Processor};

use super::features::{ATOM_CHUNK, ATOM_SEQUENCE, urid};
use super::instance::{Instance, SEQUENCE_BYTES};

/// One atom sequence buffer (an event port), 8-byte aligned as LV2 requires.
struct AtomBuffer {
    port: u32,
    words: Box<[u64]>,
}

pub struct Lv2Processor {
    instance: Instance,
    /// One value per plugin port index (only control ports' entries are used).
    controls: Box<[f32]>,
    /// Param id -> control port index.
    param_ports: Box<[u32]>,
    /// Meter index -> control output port index.
    meter_ports: Box<[u32]>,
    /// Audio input ports in lathe's channel order (`in` then `sidechain`).
    audio_in: Box<[u32]>,
    audio_out: Box<[u32]>,
    atom_in: Box<[AtomBuffer]>,
    atom_out: Box<[AtomBuffer]>,
    /// CV buffers; CV inputs read silence.
    _cv: Box<[Box<[f32]>]>,
    max_frames: usize,
    sequence_urid: u32,
    chunk_urid: u32,
    /// Named if the plugin crashes while it runs.
    crash: Option<CrashLabel>,
}

/// Where each kind of port goes, from the plugin's port list.
pub struct PortPlan {
    pub port_count: usize,
    pub param_ports: Vec<u32>,
    pub meter_ports: Vec<u32>,
    pub audio_in: Vec<u32>,
    pub audio_out: Vec<u32>,
    pub atom_in: Vec<u32>,
    pub atom_out: Vec<u32>,
    pub cv: Vec<u32>,
    /// Initial value of every control port (index, value).
    pub control_values: Vec<(u32, f32)>,
}

impl Lv2Processor {
    /// Connects every non-audio port to its buffer and sets the control values. The
    /// instance is not active yet.
    /// Names this processor's plugin if it crashes while it runs (see [`CrashLabel`]).
    pub fn set_crash_label(&mut self, label: CrashLabel) {
        self.crash = Some(label);
    }

    pub fn new(mut instance: Instance, plan: PortPlan, max_frames: usize) -> Self {
        let mut controls = vec![0.0f32; plan.port_count].into_boxed_slice();
        for &(port, value) in &plan.control_values {
            controls[port as usize] = value;
        }
        let words = SEQUENCE_BYTES / 8;
        let atoms = |ports: &[u32]| -> Box<[AtomBuffer]> {
            ports
                .iter()
                .map(|&port| AtomBuffer {
                    port,
                    words: vec![0u64; words].into_boxed_slice(),
                })
                .collect()
        };
        let mut atom_in = atoms(&plan.atom_in);
        let mut atom_out = atoms(&plan.atom_out);
        let mut cv: Box<[Box<[f32]>]> = plan
            .cv
            .iter()
            .map(|_| vec![0.0f32; max_frames].into_boxed_slice())
            .collect();
        // SAFETY: every buffer is boxed inside the processor that owns the instance, so it
        // stays at its address for the instance's life.
        unsafe {
            for &(port, _) in &plan.control_values {
                instance.connect(port, (&raw mut controls[port as usize]).cast());
            }
            for &port in plan.meter_ports.iter() {
                instance.connect(port, (&raw mut controls[port as usize]).cast());
            }
            for a in atom_in.iter_mut().chain(atom_out.iter_mut()) {
                instance.connect(a.port, a.words.as_mut_ptr().cast());
            }
            for (&port, buf) in plan.cv.iter().zip(cv.iter_mut()) {
                instance.connect(port, buf.as_mut_ptr().cast());
            }
        }
        let mut p = Self {
            instance,
            controls,
            param_ports: plan.param_ports.into_boxed_slice(),
            meter_ports: plan.meter_ports.into_boxed_slice(),
            audio_in: plan.audio_in.into_boxed_slice(),
            audio_out: plan.audio_out.into_boxed_slice(),
            atom_in,
            atom_out,
            _cv: cv,
            max_frames,
            sequence_urid: urid(ATOM_SEQUENCE),
            chunk_urid: urid(ATOM_CHUNK),
            crash: None,
        };
        p.prepare_atoms();
        p
    }

    pub fn activate(&mut self) {
        self.instance.activate();
    }

    /// The current value of control port `port` (a param or meter).
    pub fn control(&self, port: u32) -> f32 {
        self.controls[port as usize]
    }

    /// Runs silence through the plugin: a probe at build, so control outputs such as
    /// the latency port hold their values. Allocates (the silent buffers).
    pub fn run_silence(&mut self, frames: usize) {
        let ins: Vec<Vec<f32>> = self.audio_in.iter().map(|_| vec![0.0; frames]).collect();
        let mut outs: Vec<Vec<f32>> = self.audio_out.iter().map(|_| vec![0.0; frames]).collect();
        let in_refs: Vec<&[f32]> = ins.iter().map(Vec::as_slice).collect();
        let mut out_refs: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        self.run_chunks(&in_refs, &mut out_refs, frames);
    }

    /// Input sequences empty, output sequences offering their whole capacity: what LV2
    /// asks of a host before each `run`.
    #[inline]
    fn prepare_atoms(&mut self) {
        // LV2_Atom { size: u32, type: u32 } then the sequence body { unit: u32, pad: u32 }.
        let seq = self.sequence_urid as u64;
        for a in self.atom_in.iter_mut() {
            a.words[0] = 8 | (seq << 32);
            a.words[1] = 0;
        }
        let capacity = (SEQUENCE_BYTES - 8) as u64;
        let chunk = self.chunk_urid as u64;
        for a in self.atom_out.iter_mut() {
            a.words[0] = capacity | (chunk << 32);
        }
    }

    #[inline]
    fn run_chunks(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], frames: usize) {
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(self.max_frames);
            self.prepare_atoms();
            // SAFETY: every audio port gets a slice of at least `n` frames from `done`;
            // inputs are only read by the plugin (LV2 input ports are const in effect).
            unsafe {
                for (&port, inp) in self.audio_in.iter().zip(inputs) {
                    self.instance
                        .connect(port, inp[done..].as_ptr().cast_mut().cast::<c_void>());
                }
                for (&port, out) in self.audio_out.iter().zip(outputs.iter_mut()) {
                    self.instance
                        .connect(port, out[done..].as_mut_ptr().cast::<c_void>());
                }
                let _running = self.crash.as_ref().map(CrashLabel::running);
                self.instance.run(n as u32);
            }
            done += n;
        }
    }
}

impl Processor for Lv2Processor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(&port) = self.param_ports.get(id.index()) {
            self.controls[port as usize] = value;
        }
    }

    /// Deactivates and reactivates the plugin, which LV2 defines as a reset. Hosts call
    /// `reset` off the audio thread (when a graph is prepared).
    fn reset(&mut self) {
        self.instance.deactivate();
        self.instance.activate();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        self.run_chunks(io.inputs, io.outputs, frames);
        for (i, &port) in self.meter_ports.iter().enumerate() {
            io.set_meter(i, self.controls[port as usize]);
        }
    }
}
