//! The streamed render: inputs read a chunk ahead, the engine run call by call, every
//! output chunk written (dithered) to its temporary file and measured as written. Memory
//! holds a few chunks, whatever the length of the files.

use std::path::Path;

use super::inputs::InputMix;
use crate::audio_io::{AudioWriter, DecodeError, EncodeError, SampleFormat, Written};
use crate::progress::Progress;
use crate::report::{Measurement, MeasurementStream};
use lathe_engine::TaskReport;
use lathe_engine::offline::GraphRender;

/// Why a streamed render stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// An input could not be read (the user's file).
    #[error(transparent)]
    Input(#[from] DecodeError),
    /// An output could not be written.
    #[error(transparent)]
    Output(#[from] EncodeError),
    /// A script of the graph stopped and the render was strict: nothing is written.
    #[error("{}", describe_stopped(.0, *.1))]
    ScriptStopped(Vec<TaskReport>, u32),
}

/// One line per stopped script: which node, when (seconds and frame), and why.
pub fn describe_stopped(reports: &[TaskReport], sample_rate_hz: u32) -> String {
    reports
        .iter()
        .map(|r| {
            format!(
                "script node `{}` ({}) stopped at {:.3} s (frame {}): {}",
                r.node_id,
                r.kind,
                r.position_frames as f64 / f64::from(sample_rate_hz.max(1)),
                r.position_frames,
                r
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One output bus: its file (none in a measuring pass) and, when the render is
/// measured, its measurement.
pub struct OutputBus {
    writer: Option<AudioWriter>,
    measure: Option<MeasurementStream>,
    /// The samples of the last chunk as written, for measuring integer outputs.
    decoded: Vec<Vec<f32>>,
    /// Linear gain applied before writing (a safety gain under the ceiling); exactly 1
    /// leaves the samples untouched.
    gain: f32,
    scaled: Vec<Vec<f32>>,
    sample_rate_hz: u32,
}

impl OutputBus {
    /// Opens the temporary file of `path`; `measure` measures it as written.
    /// `codec` is the setting of a lossy output (`None` for WAV and FLAC).
    pub fn create(
        path: &Path,
        format: SampleFormat,
        codec: Option<lathe_codecs::CodecSpec>,
        channels: usize,
        sample_rate_hz: u32,
        measure: bool,
    ) -> Result<Self, EncodeError> {
        let writer = match codec {
            Some(spec) => AudioWriter::create_lossy(path, spec, channels, sample_rate_hz)?,
            None => AudioWriter::create(path, format, channels, sample_rate_hz)?,
        };
        Ok(Self {
            writer: Some(writer),
            measure: measure.then(|| {
                MeasurementStream::new(format!("out: {}", path.display()), sample_rate_hz, channels)
            }),
            decoded: vec![Vec::new(); channels],
            gain: 1.0,
            scaled: Vec::new(),
            sample_rate_hz,
        })
    }

    /// A bus that writes nothing and measures the graph's output as it comes (the
    /// passes that search a loudness target).
    pub fn measure_only(label: &str, channels: usize, sample_rate_hz: u32) -> Self {
        Self {
            writer: None,
            measure: Some(MeasurementStream::new(label, sample_rate_hz, channels)),
            decoded: vec![Vec::new(); channels],
            gain: 1.0,
            scaled: Vec::new(),
            sample_rate_hz,
        }
    }

    /// Multiplies every output sample by `gain_db` before it is written.
    pub fn with_gain_db(mut self, gain_db: f64) -> Self {
        self.gain = 10f64.powf(gain_db / 20.0) as f32;
        self
    }

    fn write(&mut self, chunk: &[&[f32]]) -> Result<(), EncodeError> {
        if self.gain != 1.0 {
            self.scaled.resize(chunk.len(), Vec::new());
            for (out, plane) in self.scaled.iter_mut().zip(chunk) {
                out.clear();
                out.extend(plane.iter().map(|s| s * self.gain));
            }
            let scaled = std::mem::take(&mut self.scaled);
            let planes: Vec<&[f32]> = scaled.iter().map(Vec::as_slice).collect();
            let written = self.write_as_is(&planes);
            self.scaled = scaled;
            return written;
        }
        self.write_as_is(chunk)
    }

    fn write_as_is(&mut self, chunk: &[&[f32]]) -> Result<(), EncodeError> {
        let Some(writer) = &mut self.writer else {
            if let Some(measure) = &mut self.measure {
                measure.push(chunk);
            }
            return Ok(());
        };
        writer.write(chunk)?;
        let Some(measure) = &mut self.measure else {
            return Ok(());
        };
        match writer.written() {
            Written::AsGiven => measure.push(chunk),
            written @ Written::Int { frames, .. } => {
                for plane in &mut self.decoded {
                    plane.resize(frames, 0.0);
                }
                written.decode_into(&mut self.decoded);
                let planes: Vec<&[f32]> = self.decoded.iter().map(Vec::as_slice).collect();
                measure.push(&planes);
            }
        }
        Ok(())
    }
}

/// What a completed stream leaves: the measurements, when asked for, and the scripts
/// that stopped on the way.
pub struct Streamed {
    pub inputs: Vec<Measurement>,
    pub outputs: Vec<Measurement>,
    pub frames: u64,
    pub stopped: Vec<TaskReport>,
}

/// Renders `inputs` through `renderer` into `outputs` (in the graph's bus order), then
/// completes the output files (each replaces its target only now).
///
/// The engine calls are exactly those of an in-memory render: at most
/// [`lathe_host::RENDER_CHUNK_FRAMES`] frames, cut at control ticks, over the
/// input and then `latency_frames` of silence; the first `latency_frames` output frames
/// are dropped. So the files are byte for byte what an in-memory render would write.
pub fn render_stream(
    mut renderer: GraphRender,
    mut inputs: InputMix,
    mut outputs: Vec<OutputBus>,
    progress: &Progress,
    strict: bool,
) -> Result<Streamed, StreamError> {
    let latency = renderer.latency_frames() as u64;
    let mut out_planes: Vec<Vec<f32>> = vec![Vec::new(); renderer.output_channels()];
    let mut position: u64 = 0;
    loop {
        let remaining = inputs.fill()?;
        if remaining == 0 {
            break;
        }
        let n = renderer.next_call_frames(remaining);
        for plane in &mut out_planes {
            plane.resize(n, 0.0);
        }
        {
            let ins = inputs.take(n);
            let mut outs: Vec<&mut [f32]> = out_planes.iter_mut().map(|p| &mut p[..n]).collect();
            renderer.process(&ins, &mut outs);
        }
        // Latency compensation: the output starts `latency` frames late.
        let skip = latency.saturating_sub(position).min(n as u64) as usize;
        if skip < n {
            let mut first = 0;
            for bus in &mut outputs {
                let channels = bus.decoded.len();
                let chunk: Vec<&[f32]> = out_planes[first..first + channels]
                    .iter()
                    .map(|p| &p[skip..n])
                    .collect();
                bus.write(&chunk)?;
                first += channels;
            }
        }
        position += n as u64;
        progress.advance(n as u64);
    }
    let stopped = renderer.take_task_reports();
    if strict && !stopped.is_empty() {
        // The outputs are dropped unfinished: their temporary files go, the targets stay.
        let rate = outputs.first().map_or(0, |o| o.sample_rate_hz);
        return Err(StreamError::ScriptStopped(stopped, rate));
    }
    renderer.finish();
    let frames = inputs.input_frames();
    let mut measured = Vec::new();
    for bus in outputs {
        if let Some(writer) = bus.writer {
            writer.finish()?;
        }
        measured.extend(bus.measure.map(MeasurementStream::finish));
    }
    Ok(Streamed {
        inputs: inputs.measurements(),
        outputs: measured,
        frames,
        stopped,
    })
}
