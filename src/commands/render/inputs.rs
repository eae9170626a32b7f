//! The inputs of a streamed render: one reader per input bus, read ahead a chunk at a
//! time into one planar buffer, shorter inputs padded with silence to the longest, then
//! `latency_frames` of silence so the graph's latency can be compensated.

use crate::audio_io::{AudioReader, DecodeError};
use crate::report::{Measurement, MeasurementStream};

/// One input bus being read.
struct BusInput {
    reader: AudioReader,
    /// Index of the bus's first channel in the mix's planes.
    first_channel: usize,
    channels: usize,
    ended: bool,
    measure: Option<MeasurementStream>,
}

/// The graph's inputs as one stream of frames, read ahead by up to `chunk_frames`.
pub struct InputMix {
    buses: Vec<BusInput>,
    /// One plane per graph input channel; frames `start..end` are read and not yet used,
    /// frames after `end` are silence once every bus has ended.
    planes: Vec<Vec<f32>>,
    start: usize,
    end: usize,
    chunk_frames: usize,
    /// Input frames handed out so far (the latency tail not counted).
    used_input_frames: u64,
    tail_frames_left: usize,
    /// Linear gain applied to the input after it is measured (the pre-gain of a
    /// loudness target); exactly 1 leaves the samples untouched.
    gain: f32,
}

impl InputMix {
    /// Streams `readers` (in the graph's bus order, each with the bus's channel count)
    /// followed by `latency_frames` of silence. With `measure`, each bus is measured as
    /// it is used, under the given labels.
    pub fn new(
        readers: Vec<(AudioReader, Option<String>)>,
        latency_frames: usize,
        chunk_frames: usize,
    ) -> Self {
        let mut first_channel = 0;
        let buses: Vec<BusInput> = readers
            .into_iter()
            .map(|(reader, label)| {
                let channels = reader.channel_count();
                let measure = label
                    .map(|label| MeasurementStream::new(label, reader.sample_rate_hz(), channels));
                let bus = BusInput {
                    reader,
                    first_channel,
                    channels,
                    ended: false,
                    measure,
                };
                first_channel += channels;
                bus
            })
            .collect();
        Self {
            buses,
            planes: vec![vec![0.0; chunk_frames]; first_channel],
            start: 0,
            end: 0,
            chunk_frames,
            used_input_frames: 0,
            tail_frames_left: latency_frames,
            gain: 1.0,
        }
    }

    /// Multiplies every input sample by `gain_db` on its way into the graph (after the
    /// input is measured, so the report shows the file as it is).
    pub fn with_gain_db(mut self, gain_db: f64) -> Self {
        self.gain = 10f64.powf(gain_db / 20.0) as f32;
        self
    }

    /// Frames the inputs declare (the longest), when every one declares its length.
    pub fn declared_frames(&self) -> Option<u64> {
        self.buses
            .iter()
            .map(|b| b.reader.declared_frames())
            .try_fold(0u64, |longest, frames| Some(longest.max(frames?)))
    }

    fn all_ended(&self) -> bool {
        self.buses.iter().all(|b| b.ended)
    }

    /// Reads ahead so that at least `chunk_frames` frames are buffered, unless every input
    /// ends first; returns the frames left to render (buffered input plus the silence
    /// still to come, capped at `chunk_frames`). 0 means the render is complete.
    pub fn fill(&mut self) -> Result<usize, DecodeError> {
        if self.end - self.start < self.chunk_frames && !self.all_ended() {
            self.compact();
            let want = self.chunk_frames - self.end;
            let mut longest = 0;
            for bus in &mut self.buses {
                let range = bus.first_channel..bus.first_channel + bus.channels;
                let mut read = 0;
                if !bus.ended {
                    let mut out: Vec<&mut [f32]> = self.planes[range.clone()]
                        .iter_mut()
                        .map(|p| &mut p[self.end..self.end + want])
                        .collect();
                    read = bus.reader.read(&mut out)?;
                    bus.ended = read < want;
                }
                // A bus that ended early is padded with silence to the longest.
                for plane in &mut self.planes[range] {
                    plane[self.end + read..self.end + want].fill(0.0);
                }
                longest = longest.max(read);
            }
            self.end += longest;
        }
        let buffered = self.end - self.start;
        if self.all_ended() {
            Ok((buffered + self.tail_frames_left).min(self.chunk_frames))
        } else {
            Ok(buffered)
        }
    }

    /// Moves the buffered frames to the front of the planes.
    fn compact(&mut self) {
        if self.start > 0 {
            for plane in &mut self.planes {
                plane.copy_within(self.start..self.end, 0);
            }
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// The next `frames` frames (at most what [`InputMix::fill`] returned), one slice
    /// per channel: buffered input first, then silence. They count as used.
    pub fn take(&mut self, frames: usize) -> Vec<&[f32]> {
        let input = frames.min(self.end - self.start);
        let silence = frames - input;
        if silence > 0 {
            // Only once every input has ended: the planes after `end` become the tail.
            if self.start + frames > self.chunk_frames {
                self.compact();
            }
            let (from, to) = (self.start + input, self.start + frames);
            for plane in &mut self.planes {
                plane[from..to].fill(0.0);
            }
            self.tail_frames_left -= silence;
        }
        let range = self.start..self.start + frames;
        for bus in &mut self.buses {
            if let Some(measure) = &mut bus.measure
                && input > 0
            {
                let planes: Vec<&[f32]> = self.planes
                    [bus.first_channel..bus.first_channel + bus.channels]
                    .iter()
                    .map(|p| &p[range.start..range.start + input])
                    .collect();
                measure.push(&planes);
            }
        }
        if self.gain != 1.0 {
            for plane in &mut self.planes {
                plane[range.start..range.start + input]
                    .iter_mut()
                    .for_each(|s| *s *= self.gain);
            }
        }
        self.used_input_frames += input as u64;
        self.start += input;
        if silence > 0 {
            // The silence is not kept: the buffer is empty from here on.
            self.end = self.start;
        }
        self.planes.iter().map(|p| &p[range.clone()]).collect()
    }

    /// The input frames of the render (the longest input).
    pub fn input_frames(&self) -> u64 {
        self.used_input_frames
    }

    /// The measurement of each input bus, when they were measured.
    pub fn measurements(self) -> Vec<Measurement> {
        self.buses
            .into_iter()
            .filter_map(|b| b.measure.map(MeasurementStream::finish))
            .collect()
    }
}
