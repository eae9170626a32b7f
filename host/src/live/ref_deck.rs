//! The reference in the monitor section, control half: `monitor ref FILE|on|off|next|list`
//! and `lathe run --reference FILE`. Decodes references off the audio thread (with the
//! [`ReferenceDecoder`] the `lathe` binary provides: its own decoders and the album
//! resampler), lays them out for the monitor's channels, measures their integrated
//! loudness, keeps a few in memory and hands the current one to the audio side's
//! [`RefPlayer`](super::monitor::reference::RefPlayer).
//!
//! Limits: a reference holds at most [`MAX_REFERENCE_BYTES`] of samples at the run's
//! rate (a longer file plays its first part, and says so); at most [`MAX_REFERENCES`] are
//! held (loading another lets go of the oldest one not playing).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};

use lathe_nodes::dsp::bs1770::{Layout, LoudnessMeter};

pub mod command;
use super::events::{Answer, Reply};
use super::monitor::MonitorControls;
use super::monitor::reference::{DeckEnds, RefAudio};
pub use command::RefCommand;

/// Most memory one reference's samples take at the run's rate: 256 MiB, which is
/// 12 min 25 s of stereo at 44.1 kHz, 11 min 39 s at 48 kHz, 5 min 49 s at 96 kHz.
pub const MAX_REFERENCE_BYTES: usize = 256 << 20;
/// Most references held at once.
pub const MAX_REFERENCES: usize = 4;

/// A reference file decoded at the run's rate.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRef {
    /// Planar samples, one `Vec` per channel of the file.
    pub channels: Vec<Vec<f32>>,
    /// The file's own rate (it was resampled when it differs from the run's).
    pub file_rate_hz: u32,
    /// The file is longer than `max_frames`: only its first part is here.
    pub cut: bool,
}

/// Turns a reference file into samples at a given rate. The `lathe` binary implements it
/// with the decoders `analyze` uses and the album resampler; the host has no decoders
/// of its own.
pub trait ReferenceDecoder: Send + Sync + std::fmt::Debug {
    /// Decodes at most `max_frames` frames (counted at `sample_rate_hz`) of `path`,
    /// resampled to `sample_rate_hz`. The error names the file.
    fn decode(
        &self,
        path: &Path,
        sample_rate_hz: u32,
        max_frames: usize,
    ) -> Result<DecodedRef, String>;
}

/// A reference held: where it came from and its samples.
struct Held {
    path: PathBuf,
    audio: Arc<RefAudio>,
    /// What the load said (length, loudness, resampling, cut).
    summary: String,
}

/// A load finished on its thread.
struct Loaded {
    path: PathBuf,
    sample_rate_hz: u32,
    result: Result<(RefAudio, String), String>,
    /// Play it once loaded (`monitor ref FILE`), or only hold it (reloads).
    play: bool,
}

/// The control side of the monitor's reference.
pub struct RefDeck {
    controls: Arc<MonitorControls>,
    decoder: Option<Arc<dyn ReferenceDecoder>>,
    held: Vec<Held>,
    current: Option<usize>,
    /// The newest player's queues.
    ends: Option<DeckEnds>,
    done_tx: Sender<Loaded>,
    done_rx: Receiver<Loaded>,
    loading: usize,
}

impl RefDeck {
    pub fn new(controls: Arc<MonitorControls>) -> Self {
        let (done_tx, done_rx) = mpsc::channel();
        Self {
            controls,
            decoder: None,
            held: Vec::new(),
            current: None,
            ends: None,
            done_tx,
            done_rx,
            loading: 0,
        }
    }

    pub fn set_decoder(&mut self, decoder: Arc<dyn ReferenceDecoder>) {
        self.decoder = Some(decoder);
    }

    /// Loads `path` now, on this thread (at start: `--reference`); the first one loaded
    /// becomes current, and `ref` stays off. Returns what was loaded.
    pub fn load_now(&mut self, path: &Path) -> Result<String, String> {
        self.follow_player();
        let (decoder, rate, channels) = self.load_context()?;
        let (audio, summary) = load(decoder.as_ref(), path, rate, channels)?;
        self.hold(path, audio, summary.clone(), self.current.is_none());
        Ok(summary)
    }

    /// Carries out `monitor ref ...`.
    pub fn execute(&mut self, cmd: RefCommand) -> Reply {
        self.follow_player();
        match cmd {
            RefCommand::Load(path) => {
                let (decoder, rate, channels) = self.load_context()?;
                if !path.is_file() {
                    return Err(format!(
                        "reference `{}`: no such file (or not a regular file)",
                        path.display()
                    ));
                }
                self.spawn_load(decoder, path.clone(), rate, channels, true);
                Ok(Answer::Text(format!(
                    "monitor: loading reference {} (it plays once loaded)",
                    path.display()
                )))
            }
            RefCommand::Switch(on) => {
                let link = &self.controls.reference;
                let on = on.unwrap_or(!link.on.load(Ordering::Relaxed));
                if on && self.current.is_none() {
                    return Err(self.nothing_loaded());
                }
                self.switch(on);
                Ok(Answer::Text(self.state_line()))
            }
            RefCommand::Next => {
                let Some(i) = self.current else {
                    return Err(self.nothing_loaded());
                };
                let next = (i + 1) % self.held.len();
                self.make_current(next)?;
                Ok(Answer::Text(self.state_line()))
            }
            RefCommand::List => Ok(Answer::Text(self.list())),
        }
    }

    /// Housekeeping on every turn of the control loop: adopts a new player (a new engine
    /// after a rate change), frees references the audio side let go of, and takes in
    /// finished loads. Returns messages to print (text, is an error).
    pub fn poll(&mut self) -> Vec<(String, bool)> {
        let mut said = self.follow_player();
        while let Ok(done) = self.done_rx.try_recv() {
            self.loading = self.loading.saturating_sub(1);
            said.extend(self.take_loaded(done));
        }
        if let Some(ends) = &mut self.ends {
            while let Ok(old) = ends.returned.pop() {
                drop(old);
            }
        }
        said
    }

    /// The files of the references held.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.held.iter().map(|h| h.path.as_path())
    }

    /// `ref FILE` for the monitor's state line, or nothing when `ref` is off.
    pub fn describe(&self) -> Option<String> {
        let on = self.controls.reference.on.load(Ordering::Relaxed);
        let held = self.held.get(self.current?)?;
        on.then(|| format!("ref {}", file_name(&held.path)))
    }

    /// The integrated loudness of the current reference, if one is held.
    pub fn current_lufs(&self) -> Option<f32> {
        self.held
            .get(self.current?)
            .map(|h| h.audio.integrated_lufs)
    }

    /// Whether `ref` is on (for the web console).
    pub fn is_on(&self) -> bool {
        self.controls.reference.on.load(Ordering::Relaxed)
    }

    fn switch(&self, on: bool) {
        self.controls.reference.on.store(on, Ordering::Relaxed);
        if on {
            // As with `ab`: from now on flipping back and forth compares at equal loudness.
            self.controls.match_loudness.store(true, Ordering::Relaxed);
        }
    }

    fn nothing_loaded(&self) -> String {
        if self.loading > 0 {
            "the reference is still loading".to_string()
        } else {
            "no reference loaded; `monitor ref FILE`, or `lathe run --reference FILE`".to_string()
        }
    }

    fn load_context(&self) -> Result<(Arc<dyn ReferenceDecoder>, u32, usize), String> {
        let decoder = self
            .decoder
            .clone()
            .ok_or("this host cannot decode reference files")?;
        let ends = self.ends.as_ref().ok_or("the monitor is not running yet")?;
        if ends.channels == 0 {
            return Err("the graph has no main output to play a reference on".into());
        }
        Ok((decoder, ends.sample_rate_hz, ends.channels))
    }

    fn spawn_load(
        &mut self,
        decoder: Arc<dyn ReferenceDecoder>,
        path: PathBuf,
        rate: u32,
        channels: usize,
        play: bool,
    ) {
        let done = self.done_tx.clone();
        let thread_path = path.clone();
        let spawned = std::thread::Builder::new()
            .name("lathe-reference".into())
            .spawn(move || {
                // A decoder that panics on a damaged file is an error like any other.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    load(decoder.as_ref(), &thread_path, rate, channels)
                }))
                .unwrap_or_else(|_| {
                    Err(format!(
                        "reference `{}`: the decoder failed",
                        thread_path.display()
                    ))
                });
                let _ = done.send(Loaded {
                    path: thread_path,
                    sample_rate_hz: rate,
                    result,
                    play,
                });
            });
        match spawned {
            Ok(_) => self.loading += 1,
            Err(e) => {
                let _ = self.done_tx.send(Loaded {
                    path,
                    sample_rate_hz: rate,
                    result: Err(format!("cannot start loading: {e}")),
                    play,
                });
                self.loading += 1;
            }
        }
    }

    fn take_loaded(&mut self, done: Loaded) -> Vec<(String, bool)> {
        let rate_now = self.ends.as_ref().map(|e| e.sample_rate_hz);
        match done.result {
            Err(e) => vec![(format!("error: {e}; the monitor is unchanged"), true)],
            Ok(_) if rate_now != Some(done.sample_rate_hz) => {
                // The server's rate changed while it loaded: load again at the new one.
                if let Ok((decoder, rate, channels)) = self.load_context() {
                    self.spawn_load(decoder, done.path, rate, channels, done.play);
                }
                Vec::new()
            }
            Ok((audio, summary)) => {
                // The first one back becomes current if none is (after a rate change).
                let index = self.hold(&done.path, audio, summary.clone(), true);
                if !done.play {
                    return vec![(format!("monitor: reference {summary}"), false)];
                }
                match self.make_current(index) {
                    Ok(()) => {
                        self.switch(true);
                        vec![(
                            format!("monitor: reference {summary}\n{}", self.state_line()),
                            false,
                        )]
                    }
                    Err(e) => vec![(format!("error: {e}"), true)],
                }
            }
        }
    }

    /// Holds a loaded reference (in place of one from the same path, else after the
    /// others, letting go of the oldest not playing beyond [`MAX_REFERENCES`]); returns
    /// its index. With `current` it becomes the current one if none is, and goes to the
    /// player.
    fn hold(&mut self, path: &Path, audio: RefAudio, summary: String, current: bool) -> usize {
        let held = Held {
            path: path.to_path_buf(),
            audio: Arc::new(audio),
            summary,
        };
        let index = match self.held.iter().position(|h| h.path == path) {
            Some(i) => {
                self.held[i] = held;
                if self.current == Some(i) {
                    // Its old samples are still playing: the new ones go to the player.
                    let _ = self.send_current(i);
                }
                i
            }
            None => {
                if self.held.len() >= MAX_REFERENCES
                    && let Some(oldest) = (0..self.held.len()).find(|&i| Some(i) != self.current)
                {
                    self.held.remove(oldest);
                    if let Some(c) = &mut self.current
                        && *c > oldest
                    {
                        *c -= 1;
                    }
                }
                self.held.push(held);
                self.held.len() - 1
            }
        };
        if current && self.current.is_none() {
            self.current = Some(index);
            let _ = self.send_current(index);
        }
        index
    }

    fn make_current(&mut self, index: usize) -> Result<(), String> {
        if self.current != Some(index) {
            self.send_current(index)?;
            self.current = Some(index);
        }
        Ok(())
    }

    fn send_current(&mut self, index: usize) -> Result<(), String> {
        let audio = self.held.get(index).map(|h| h.audio.clone());
        let ends = self.ends.as_mut().ok_or("the monitor is not running")?;
        ends.send
            .push(audio)
            .map_err(|_| "the monitor is busy switching references; try again".to_string())
    }

    /// Adopts the newest player, if a new one was made (a new engine): it gets the
    /// current reference, or, at a new rate, every reference is decoded again.
    fn follow_player(&mut self) -> Vec<(String, bool)> {
        let Some(ends) = self.controls.reference.take_fresh() else {
            return Vec::new();
        };
        let old_rate = self.ends.as_ref().map(|e| e.sample_rate_hz);
        let new_rate = ends.sample_rate_hz;
        self.ends = Some(ends);
        if old_rate.is_none() || old_rate == Some(new_rate) || self.held.is_empty() {
            if let Some(i) = self.current {
                let _ = self.send_current(i);
            }
            return Vec::new();
        }
        let paths: Vec<PathBuf> = self.held.iter().map(|h| h.path.clone()).collect();
        let current = self.current;
        self.held.clear();
        self.current = None;
        let on = self.controls.reference.on.swap(false, Ordering::Relaxed);
        let Ok((decoder, rate, channels)) = self.load_context() else {
            return Vec::new();
        };
        for (i, path) in paths.into_iter().enumerate() {
            self.spawn_load(
                decoder.clone(),
                path,
                rate,
                channels,
                on && Some(i) == current,
            );
        }
        vec![(
            format!("monitor: decoding the references again for {new_rate} Hz"),
            false,
        )]
    }

    /// `monitor: ref on (song.flac, 2/3)` or `monitor: ref off`.
    fn state_line(&self) -> String {
        let on = self.controls.reference.on.load(Ordering::Relaxed);
        match self.current.and_then(|i| self.held.get(i).map(|h| (i, h))) {
            Some((i, h)) => format!(
                "monitor: ref {} ({}, {}/{}, {:.1} LUFS integrated)",
                if on { "on" } else { "off" },
                file_name(&h.path),
                i + 1,
                self.held.len(),
                h.audio.integrated_lufs
            ),
            None => format!("monitor: ref {}", if on { "on" } else { "off" }),
        }
    }

    fn list(&self) -> String {
        if self.held.is_empty() {
            return self.nothing_loaded();
        }
        let rate = self.ends.as_ref().map_or(1, |e| e.sample_rate_hz.max(1));
        let mut lines: Vec<String> = self
            .held
            .iter()
            .enumerate()
            .map(|(i, h)| {
                format!(
                    "{} {}. {} (at {})",
                    if Some(i) == self.current { "*" } else { " " },
                    i + 1,
                    h.summary,
                    clock(h.audio.position() as f64 / f64::from(rate)),
                )
            })
            .collect();
        let (wet, _) = self.controls.loudness();
        let matching = self.controls.match_loudness.load(Ordering::Relaxed);
        lines.push(format!(
            "{}; processed output {wet:.1} LUFS short-term; reference gain {:.1} dB{}",
            self.state_line(),
            self.controls.reference.gain_db(),
            if matching { "" } else { " (match off)" }
        ));
        lines.join("\n")
    }
}

/// Decodes `path`, lays it out for `channels` monitor channels and measures it.
fn load(
    decoder: &dyn ReferenceDecoder,
    path: &Path,
    rate: u32,
    channels: usize,
) -> Result<(RefAudio, String), String> {
    let max_frames = MAX_REFERENCE_BYTES / (channels.max(1) * std::mem::size_of::<f32>());
    let decoded = decoder.decode(path, rate, max_frames)?;
    let file_channels = decoded.channels.len();
    if file_channels == 0 || decoded.channels[0].is_empty() {
        return Err(format!("reference `{}` has no audio", path.display()));
    }
    let laid_out = lay_out(decoded.channels, channels, max_frames);
    let lufs = integrated_lufs(&laid_out, rate);
    let frames = laid_out.first().map_or(0, |c| c.len());
    let mut notes = Vec::new();
    if decoded.file_rate_hz != rate {
        notes.push(format!("resampled {} -> {rate} Hz", decoded.file_rate_hz));
    }
    if file_channels == 1 && channels > 1 {
        notes.push(format!("mono, played on all {channels} channels"));
    } else if file_channels > channels {
        notes.push(format!(
            "{file_channels} channels, the first {channels} played"
        ));
    } else if file_channels < channels {
        notes.push(format!(
            "{file_channels} channels, silence on the other {}",
            channels - file_channels
        ));
    }
    if decoded.cut {
        notes.push(format!(
            "longer than the {} MiB a reference may hold: its first {} play",
            MAX_REFERENCE_BYTES >> 20,
            clock(frames as f64 / f64::from(rate))
        ));
    }
    let mut summary = format!(
        "{}: {}, {lufs:.1} LUFS integrated",
        path.display(),
        clock(frames as f64 / f64::from(rate)),
    );
    if !notes.is_empty() {
        summary.push_str(&format!(" ({})", notes.join("; ")));
    }
    let name = path.display().to_string();
    Ok((RefAudio::new(name, rate, laid_out, lufs), summary))
}

/// One buffer per monitor channel: a mono file feeds every channel; otherwise channel
/// `c` is the file's channel `c`, silence where the file has none.
fn lay_out(mut file: Vec<Vec<f32>>, channels: usize, max_frames: usize) -> Box<[Box<[f32]>]> {
    let frames = file.first().map_or(0, Vec::len).min(max_frames);
    for ch in &mut file {
        ch.truncate(frames);
    }
    let mono = file.len() == 1;
    (0..channels)
        .map(|c| {
            let source = if mono { file.first() } else { file.get(c) };
            match source {
                Some(ch) => ch.clone().into_boxed_slice(),
                None => vec![0.0; frames].into_boxed_slice(),
            }
        })
        .collect()
}

/// BS.1770 integrated loudness (gated) with every channel weighted 1, as the monitor's
/// short-term trackers weigh the processed output.
fn integrated_lufs(channels: &[Box<[f32]>], rate: u32) -> f32 {
    let mut meter = LoudnessMeter::new(f64::from(rate), Layout::Unweighted(channels.len()));
    const CHUNK: usize = 1 << 16;
    let frames = channels.first().map_or(0, |c| c.len());
    let mut at = 0;
    while at < frames {
        let end = (at + CHUNK).min(frames);
        let planes: Vec<&[f32]> = channels.iter().map(|c| &c[at..end]).collect();
        meter.process(&planes, |_| {});
        at = end;
    }
    meter
        .integrated_lufs()
        .map_or(f32::NEG_INFINITY, |l| l as f32)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `3:07.5` for 187.5 s.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0);
    let minutes = (s / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, s - minutes * 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_osc_words_reach_the_deck() {
        use crate::live::console::{Command, parse};
        assert_eq!(
            parse("monitor ref next"),
            Ok(Some(Command::MonitorRef(RefCommand::Next)))
        );
        assert_eq!(
            parse("monitor ref"),
            Ok(Some(Command::MonitorRef(RefCommand::Switch(None))))
        );
        assert_eq!(
            parse("monitor ref /music/ref.flac"),
            Ok(Some(Command::MonitorRef(RefCommand::Load(
                "/music/ref.flac".into()
            ))))
        );
        let (_, web) =
            crate::live::web::protocol::parse(r#"{"cmd":"monitor","switch":"ref","on":true}"#)
                .expect("parses");
        assert_eq!(web, Command::MonitorRef(RefCommand::Switch(Some(true))));
    }

    #[test]
    fn parses_ref_words() {
        assert_eq!(RefCommand::parse(&[]), Ok(RefCommand::Switch(None)));
        assert_eq!(
            RefCommand::parse(&["off"]),
            Ok(RefCommand::Switch(Some(false)))
        );
        assert_eq!(RefCommand::parse(&["next"]), Ok(RefCommand::Next));
        assert_eq!(
            RefCommand::parse(&["My", "Song.flac"]),
            Ok(RefCommand::Load("My Song.flac".into()))
        );
        assert_eq!(
            RefCommand::parse(&["./next"]),
            Ok(RefCommand::Load("./next".into()))
        );
    }

    #[test]
    fn mono_feeds_every_channel_and_missing_channels_are_silent() {
        let out = lay_out(vec![vec![0.5; 10]], 2, 8);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|c| c.len() == 8 && c[0] == 0.5));
        let out = lay_out(vec![vec![0.5; 4], vec![0.25; 4]], 3, 100);
        assert_eq!((out[1][0], out[2][0]), (0.25, 0.0));
        assert_eq!(clock(187.5), "3:07.5");
    }

    /// A 997 Hz sine at -20 dBFS on both channels reads -20 LUFS integrated.
    #[test]
    fn integrated_loudness_of_a_sine() {
        let rate = 48_000;
        let x: Box<[f32]> = (0..rate * 5)
            .map(|i| {
                0.1 * (2.0 * std::f64::consts::PI * 997.0 * i as f64 / rate as f64).sin() as f32
            })
            .collect();
        let lufs = integrated_lufs(&[x.clone(), x], rate as u32);
        assert!((lufs + 20.0).abs() < 0.1, "{lufs}");
    }
}
