//! The audio side of a `clap` node: hands each block to the plugin with the param changes
//! since the last block as CLAP param-value events at frame 0.
//!
//! Everything `process` touches is sized at build (channel pointer tables, input copies,
//! the event list), so the host side allocates nothing on the audio thread. Inputs are
//! copied into buffers the plugin may scribble on: the engine's input buffers are other
//! nodes' outputs and must stay as they are.

use crate::crash::CrashLabel;
use std::ffi::c_void;

use clap_sys::audio_buffer::clap_audio_buffer;
use clap_sys::events::{
    CLAP_CORE_EVENT_SPACE_ID, CLAP_EVENT_PARAM_VALUE, clap_event_header, clap_event_param_value,
    clap_input_events, clap_output_events,
};
use clap_sys::process::{CLAP_PROCESS_ERROR, clap_process};
use lathe_engine::{Io, ParamId, Processor};

use super::instance::ClapInstance;
use super::params::ParamRoute;

/// Index of the `failed_blocks` meter in the node's spec.
pub const FAILED_BLOCKS_METER: usize = 0;

pub struct ClapProcessor {
    instance: ClapInstance,
    routes: Vec<ParamRoute>,
    /// The value last sent to (or read from) the plugin, per param.
    sent: Vec<f64>,
    /// The value to send at the next block, per param.
    target: Vec<f64>,
    /// This block's events; capacity one per param, so pushing never allocates.
    events: Vec<clap_event_param_value>,
    /// Channel counts of the plugin's input and output ports, in port order.
    input_ports: Vec<usize>,
    output_ports: Vec<usize>,
    /// One copy of each input channel, `max_block_frames` long.
    input_copies: Vec<Vec<f32>>,
    input_ptrs: Vec<*mut f32>,
    output_ptrs: Vec<*mut f32>,
    input_buffers: Vec<clap_audio_buffer>,
    output_buffers: Vec<clap_audio_buffer>,
    /// Blocks the plugin refused (returned an error for); their output is silence.
    failed_blocks: u64,
    /// Frames processed since the last reset: CLAP's `steady_time`.
    steady_time: i64,
    /// Has the plugin processed since it was built (it is no longer fresh)?
    has_run: bool,
    /// Named if the plugin crashes while it processes.
    crash: CrashLabel,
}

// SAFETY: the raw pointers are tables into this processor's own buffers, refilled before
// every use; the instance is Send (see `ClapInstance`).
unsafe impl Send for ClapProcessor {}

impl ClapProcessor {
    /// A processor for an active `instance` whose node params reach it through `routes`,
    /// with ports of `input_ports` / `output_ports` channels.
    pub fn new(
        instance: ClapInstance,
        routes: Vec<ParamRoute>,
        input_ports: Vec<usize>,
        output_ports: Vec<usize>,
        max_block_frames: usize,
        crash: CrashLabel,
    ) -> Self {
        let sent: Vec<f64> = routes
            .iter()
            .map(|r| instance.param_value(r.clap_id).unwrap_or(f64::NAN))
            .collect();
        let inputs: usize = input_ports.iter().sum();
        let outputs: usize = output_ports.iter().sum();
        let empty = clap_audio_buffer {
            data32: std::ptr::null_mut(),
            data64: std::ptr::null_mut(),
            channel_count: 0,
            latency: 0,
            constant_mask: 0,
        };
        Self {
            crash,
            instance,
            target: sent.clone(),
            sent,
            events: Vec::with_capacity(routes.len()),
            routes,
            input_copies: vec![vec![0.0; max_block_frames]; inputs],
            input_ptrs: vec![std::ptr::null_mut(); inputs],
            output_ptrs: vec![std::ptr::null_mut(); outputs],
            input_buffers: vec![empty; input_ports.len()],
            output_buffers: vec![empty; output_ports.len()],
            input_ports,
            output_ports,
            failed_blocks: 0,
            steady_time: 0,
            has_run: false,
        }
    }

    /// Fills `events` with the params whose target moved since the last block.
    fn queue_param_events(&mut self) {
        self.events.clear();
        for (i, route) in self.routes.iter().enumerate() {
            let value = self.target[i];
            if value.to_bits() == self.sent[i].to_bits()
                || self.events.len() == self.events.capacity()
            {
                continue;
            }
            self.sent[i] = value;
            self.events.push(clap_event_param_value {
                header: clap_event_header {
                    size: size_of::<clap_event_param_value>() as u32,
                    time: 0,
                    space_id: CLAP_CORE_EVENT_SPACE_ID,
                    type_: CLAP_EVENT_PARAM_VALUE,
                    flags: 0,
                },
                param_id: route.clap_id,
                cookie: std::ptr::null_mut(),
                note_id: -1,
                port_index: -1,
                channel: -1,
                key: -1,
                value,
            });
        }
    }
}

/// Fills one `clap_audio_buffer` per port with `channels` pointers each from `ptrs`.
fn point_buffers(buffers: &mut [clap_audio_buffer], ports: &[usize], ptrs: &mut [*mut f32]) {
    let mut first = 0;
    for (buffer, &channels) in buffers.iter_mut().zip(ports) {
        buffer.data32 = ptrs[first..].as_mut_ptr();
        buffer.channel_count = channels as u32;
        first += channels;
    }
}

unsafe extern "C" fn events_size(list: *const clap_input_events) -> u32 {
    // SAFETY: `ctx` is the processor's event vector for the duration of `process`.
    unsafe { (*((*list).ctx as *const Vec<clap_event_param_value>)).len() as u32 }
}

unsafe extern "C" fn events_get(
    list: *const clap_input_events,
    index: u32,
) -> *const clap_event_header {
    // SAFETY: as in `events_size`.
    let events = unsafe { &*((*list).ctx as *const Vec<clap_event_param_value>) };
    events
        .get(index as usize)
        .map_or(std::ptr::null(), |e| &e.header as *const _)
}

/// The plugin's output events (gestures, its own param changes) are not used.
unsafe extern "C" fn events_try_push(
    _list: *const clap_output_events,
    _event: *const clap_event_header,
) -> bool {
    true
}

impl Processor for ClapProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(route) = self.routes.get(id.index()) {
            self.target[id.index()] = route.plugin_value(value);
        }
    }

    fn reset(&mut self) {
        self.failed_blocks = 0;
        // A plugin that never ran is as fresh as a reset makes it; CLAP wants `reset`
        // from the audio thread, and the build (which also resets) is not.
        if self.has_run {
            self.instance.reset();
        }
        self.steady_time = 0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        self.has_run = true;
        for ((copy, ptr), input) in self
            .input_copies
            .iter_mut()
            .zip(self.input_ptrs.iter_mut())
            .zip(io.inputs.iter())
        {
            copy[..frames].copy_from_slice(&input[..frames]);
            *ptr = copy.as_mut_ptr();
        }
        for (ptr, output) in self.output_ptrs.iter_mut().zip(io.outputs.iter_mut()) {
            *ptr = output.as_mut_ptr();
        }
        point_buffers(
            &mut self.input_buffers,
            &self.input_ports,
            &mut self.input_ptrs,
        );
        point_buffers(
            &mut self.output_buffers,
            &self.output_ports,
            &mut self.output_ptrs,
        );
        self.queue_param_events();
        let in_events = clap_input_events {
            ctx: (&raw const self.events) as *mut c_void,
            size: Some(events_size),
            get: Some(events_get),
        };
        let out_events = clap_output_events {
            ctx: std::ptr::null_mut(),
            try_push: Some(events_try_push),
        };
        let process = clap_process {
            steady_time: self.steady_time,
            frames_count: frames as u32,
            transport: std::ptr::null(),
            audio_inputs: self.input_buffers.as_ptr(),
            audio_outputs: self.output_buffers.as_mut_ptr(),
            audio_inputs_count: self.input_buffers.len() as u32,
            audio_outputs_count: self.output_buffers.len() as u32,
            in_events: &in_events,
            out_events: &out_events,
        };
        let status = {
            let _running = self.crash.running();
            self.instance.process(&process)
        };
        if status == CLAP_PROCESS_ERROR {
            self.failed_blocks += 1;
            for out in io.outputs.iter_mut() {
                out[..frames].fill(0.0);
            }
        }
        io.set_meter(FAILED_BLOCKS_METER, self.failed_blocks as f32);
        self.steady_time += frames as i64;
    }
}
