//! `lathe album`: master every track of an album through one graph to a loudness target
//! and a delivery format, with tags and a before/after report.
//!
//! Per track: pre-gain -> graph (latency compensated, control tasks ticked: [`super::render_audio`])
//! -> resampling (rubato) -> safety gain if the ceiling is crossed -> `dither` node kind
//! -> PCM WAV with `LIST`/`INFO` and `bext`, or FLAC with Vorbis comments. The pre-gain
//! comes from the fixed iteration of [`crate::album::plan`]. Tracks render in parallel;
//! each track's result depends only on its own audio and the gains, so the files are
//! the same for any `--jobs`.
//!
//! Memory: no track is kept between passes. A pass decodes the track again, renders
//! it, measures it and keeps only the measurement, so a job holds one track (input and
//! rendered output) at a time, whatever the album's length. The delivered file comes
//! from one more render at the final gain (renders are deterministic, so it is the
//! render that was measured); in track mode and without a target the settled render
//! is delivered at once.
//!
//! A track that cannot be used (unreadable, wrong channel count, another sample rate)
//! is reported and left out; the others are still written, and the command ends with
//! exit code 2.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use lathe_codecs::CodecSpec;
use lathe_nodes::dsp::analysis::{AlbumAnalysis, Analyzer, FileAnalysis, FileState};
use lathe_nodes::dsp::bs1770::Layout;
use lathe_nodes::kinds::dither::DitherKind;
use rayon::prelude::*;
use serde::Serialize;

use crate::album::metadata::{
    BextLoudness, Manifest, Provenance, TrackTags, bext_chunk, bext_date_time, check_isrc,
    info_chunk, origination_secs, vorbis_comments,
};
use crate::album::plan::{GainSearch, MAX_PASSES, RELATIVE_SETTLE_LU};
use crate::album::preset::Preset;
use crate::album::resample::resample;
use crate::album::shard::Shard;
use crate::album::wav::write_pcm_wav;
use crate::atomic_file::{ensure_not_overwriting, write_atomically};
use crate::audio_io::{Audio, Quantisation, lossy_output, read_audio, replaygain, write_flac};
use crate::cli::{AlbumArgs, AlbumMode, DeliveryFormat, ParamSet};
use crate::delivery::codec_safe::{self, CodecSafe};
use crate::delivery::platforms::{self, Platform, Preview};
use crate::exit::{CliError, ResultExt};
use crate::progress::Progress;

/// Headroom kept under the ceiling when a safety gain is needed, in dB.
const SAFETY_MARGIN_DB: f64 = 0.05;

pub(crate) mod unit;

pub fn run(args: &AlbumArgs) -> Result<(), CliError> {
    if args.list_presets || args.preset.as_deref() == Some("") {
        print!(
            "delivery presets (--preset NAME, or the path of a .ron file):\n{}",
            Preset::listing()
        );
        return Ok(());
    }
    let job = Job::from_args(args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.map_or(0, usize::from))
        .build()
        .runtime_fault()?;
    pool.install(|| job.run(args))
}

/// What [`Job::solve`] delivered (in track order), its number of passes and the album's
/// codec-safe gain in dB (`None` when each track found its own).
type Solved = (Vec<Result<TrackReport, Failure>>, usize, Option<f64>);

/// How a track's codec-safe gain is found.
#[derive(Clone, Copy)]
enum CodecGain<'a> {
    /// Searched from this gain down: 0 dB, or the album's codec-safe gain.
    SearchFrom(f64),
    /// Found when the track was first delivered: applied as it is (the album-tag pass).
    Known(&'a CodecSafe),
}

/// The codec-safe gain a second write of `report`'s track applies: the one found first.
fn known_codec_gain(report: &TrackReport) -> CodecGain<'_> {
    match &report.codec_safe {
        Some(chosen) => CodecGain::Known(chosen),
        None => CodecGain::SearchFrom(0.0),
    }
}

/// The preset's codec-safe list, parsed.
fn codec_safe_specs(preset: &Preset) -> Result<Vec<CodecSpec>, String> {
    let mut specs = Vec::new();
    for list in &preset.codec_safe {
        specs.extend(lathe_codecs::parse_list(list).map_err(|e| e.to_string())?);
    }
    Ok(specs)
}

/// The codec setting of a lossy `format`: `--codec` when given (its codec must be the
/// format's, and the encoder must take its bitrate), else the format's delivery default;
/// `None` for WAV and FLAC, where `--codec` is refused.
fn lossy_spec(
    format: DeliveryFormat,
    codec: Option<CodecSpec>,
    preset_rate_hz: Option<u32>,
) -> Result<Option<CodecSpec>, CliError> {
    let Some(wanted) = format.codec() else {
        return match codec {
            Some(spec) => Err(CliError::user(anyhow!(
                "--codec {spec} sets the codec of a lossy --format (opus, mp3, m4a), and \
                 --format is {}",
                format.extension()
            ))),
            None => Ok(None),
        };
    };
    let Some(spec) = codec else {
        return Ok(Some(lossy_output::default_spec(wanted)));
    };
    if spec.codec != wanted {
        return Err(CliError::user(anyhow!(
            "--codec {spec}: --format {} is coded with {wanted}; give {wanted}:KBPS ({})",
            format.extension(),
            wanted.allowed_bitrates()
        )));
    }
    // A bitrate the encoder refuses is found before any track renders (stereo at the
    // delivery rate; a mono track is checked again when it is encoded).
    let rate_hz = lathe_codecs::coded_rate_hz(wanted, preset_rate_hz.unwrap_or(48_000));
    lathe_codecs::open(spec, rate_hz, 2).map_err(|e| CliError::user(anyhow!("--codec: {e}")))?;
    Ok(Some(spec))
}

/// The codec check as the delivered file's description records it.
fn codec_safe_note(c: &CodecSafe) -> String {
    let peaks: Vec<String> = c
        .decoded
        .iter()
        .map(|d| format!("{} {:.2} dBTP", d.codec, d.true_peak_dbtp))
        .collect();
    format!("; codec-safe {:+.2} dB: {}", c.gain_db, peaks.join(", "))
}

struct Job {
    graph: PathBuf,
    sets: Vec<ParamSet>,
    block_frames: usize,
    out_dir: PathBuf,
    mode: AlbumMode,
    format: DeliveryFormat,
    /// The codec setting of a lossy format; `None` for WAV and FLAC.
    lossy: Option<lathe_codecs::CodecSpec>,
    preset: Preset,
    target: Option<f64>,
    shard: Shard,
    manifest: Manifest,
    /// Output path of each input path, where not `-o DIR` + base name (catalogues).
    outputs: Vec<(PathBuf, PathBuf)>,
    /// Written into the delivered files when set (catalogues).
    provenance: Option<Provenance>,
    /// The platform table of `--platforms`, when asked for.
    platforms: Option<Vec<Platform>>,
}

/// A track that can go through the graph: where it is and what it measured. Its audio
/// is decoded again for every render rather than kept.
struct Track {
    index: usize,
    path: PathBuf,
    sample_rate_hz: u32,
    before: FileState,
}

/// What decoding a track found, before its rate and channels are checked.
struct Probe {
    sample_rate_hz: u32,
    channels: usize,
    before: FileState,
}

/// What the report says about one written track.
#[derive(Debug, Serialize)]
struct TrackReport {
    #[serde(skip)]
    index: usize,
    #[serde(skip)]
    after_state: FileState,
    input: String,
    output: String,
    gain_db: f64,
    safety_gain_db: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_safe: Option<CodecSafe>,
    before: FileAnalysis,
    after: FileAnalysis,
    tags: TrackTags,
    /// What each streaming platform will do to the delivered track (`--platforms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    platforms: Option<Vec<Preview>>,
}

#[derive(Debug, Serialize)]
struct Failure {
    input: String,
    error: String,
    /// Writing the delivery file failed (a full disk, a read-only folder): exit 1, as
    /// for `render`, not 2.
    #[serde(skip)]
    write_failed: bool,
}

#[derive(Debug, Serialize)]
struct Spread {
    before_lu: Option<f64>,
    after_lu: Option<f64>,
    /// Largest change of a track's loudness relative to the album, after vs before.
    max_relative_change_lu: Option<f64>,
}

#[derive(Debug, Serialize)]
struct AlbumReport {
    graph: String,
    mode: AlbumMode,
    format: DeliveryFormat,
    /// The codec setting of a lossy format, e.g. "aac:256".
    #[serde(skip_serializing_if = "Option::is_none")]
    codec: Option<String>,
    preset: String,
    target_lufs: Option<f64>,
    tolerance_lu: f64,
    ceiling_dbtp: f64,
    sample_rate_hz: u32,
    bits: u32,
    dither: String,
    passes: usize,
    /// The album's codec-safe gain (album mode with `--codec-safe`): every track at least
    /// this far down, so the album keeps its relative levels.
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_safe_album_db: Option<f64>,
    shard: String,
    tracks: Vec<TrackReport>,
    failed: Vec<Failure>,
    album_before: Option<FileAnalysis>,
    album_after: Option<FileAnalysis>,
    /// What each streaming platform will do to the album played as one programme
    /// (platforms with album normalisation apply one gain to every track).
    #[serde(skip_serializing_if = "Option::is_none")]
    album_platforms: Option<Vec<Preview>>,
    spread: Spread,
}

fn measure(audio: &Audio) -> FileState {
    let mut analyzer = Analyzer::new(
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    );
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyzer.process(&planes);
    analyzer.state()
}

fn album_of<'a>(states: impl IntoIterator<Item = &'a FileState>) -> Option<FileAnalysis> {
    let mut album = AlbumAnalysis::new();
    states.into_iter().for_each(|s| album.add(s));
    album.analysis()
}

impl Job {
    fn from_args(args: &AlbumArgs) -> Result<Self, CliError> {
        let usage = |m: &str| CliError::user(anyhow!("{m}"));
        let graph = args
            .graph
            .clone()
            .ok_or_else(|| usage("a graph file is needed"))?;
        if args.tracks.is_empty() {
            return Err(usage("no tracks given: lathe album GRAPH TRACK... -o DIR"));
        }
        let out_dir = args
            .output
            .clone()
            .ok_or_else(|| usage("no output folder: give -o DIR"))?;
        let mut preset = match &args.preset {
            Some(name) => Preset::find(name).user_fault()?,
            None => Preset::plain(),
        };
        if let Some(list) = &args.codec_safe {
            preset.codec_safe = vec![list.clone()];
        }
        let specs = codec_safe_specs(&preset).map_err(|e| usage(&format!("--codec-safe: {e}")))?;
        // A codec whose library is missing is found before any track renders.
        for spec in specs {
            lathe_codecs::open(spec, lathe_codecs::coded_rate_hz(spec.codec, 48_000), 2)
                .map_err(|e| usage(&format!("--codec-safe: {e}")))?;
        }
        if args.format == DeliveryFormat::Opus
            && let Some(plot) = &args.plot
        {
            return Err(usage(&format!(
                "--plot `{}` draws the delivered files read back, and lathe reads no Opus; \
                 plot a WAV, FLAC or MP3 delivery",
                plot.display()
            )));
        }
        if let (Some(codec), Some(rate)) = (args.format.codec(), preset.sample_rate_hz)
            && !lossy_output::takes_rate(codec, rate)
        {
            return Err(usage(&format!(
                "--format {}: preset `{}` delivers at {rate} Hz, and {codec} is written at \
                 {} Hz; use a preset with one of those rates, or none (the input's rate is \
                 then resampled to one)",
                args.format.extension(),
                preset.name,
                lossy_output::allowed_rates(codec)
            )));
        }
        let mut manifest = match &args.manifest {
            Some(path) => Manifest::load(path).map_err(|e| usage(&e))?,
            None => Manifest::default(),
        };
        manifest.artist = args.artist.clone().or(manifest.artist);
        manifest.album = args.album_title.clone().or(manifest.album);
        let job = Job {
            target: args.target_lufs.or(preset.target_lufs),
            graph,
            sets: args.sets.sets.clone(),
            block_frames: args.block_frames,
            out_dir,
            mode: args.mode,
            format: args.format,
            lossy: lossy_spec(args.format, args.codec, preset.sample_rate_hz)?,
            preset,
            shard: args.shard.unwrap_or(Shard::ALL),
            manifest,
            outputs: Vec::new(),
            provenance: None,
            platforms: match &args.platforms {
                Some(table) => Some(platforms::load(table.as_deref()).user_fault()?),
                None => None,
            },
        };
        job.check_outputs(args)?;
        Ok(job)
    }

    fn output_path(&self, track: &Path) -> PathBuf {
        if let Some((_, out)) = self.outputs.iter().find(|(input, _)| input == track) {
            return out.clone();
        }
        let stem = track.file_stem().unwrap_or(track.as_os_str());
        let mut name = stem.to_os_string();
        name.push(".");
        name.push(self.format.extension());
        self.out_dir.join(name)
    }

    /// Outputs may not collide with each other, an input, the graph or the report.
    fn check_outputs(&self, args: &AlbumArgs) -> Result<(), CliError> {
        if self.out_dir.exists() && !self.out_dir.is_dir() {
            return Err(CliError::user(anyhow!(
                "-o `{}` is a file; give a folder",
                self.out_dir.display()
            )));
        }
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| anyhow!("cannot create `{}`: {e}", self.out_dir.display()))
            .runtime_fault()?;
        let mut protected: Vec<(&str, &Path)> = vec![("graph file", self.graph.as_path())];
        protected.extend(args.tracks.iter().map(|t| ("input track", t.as_path())));
        protected.extend(args.manifest.iter().map(|m| ("manifest", m.as_path())));
        let preset_file = args
            .preset
            .as_deref()
            .map(Path::new)
            .filter(|p| p.is_file());
        protected.extend(preset_file.map(|p| ("preset file", p)));
        let outputs: Vec<PathBuf> = args.tracks.iter().map(|t| self.output_path(t)).collect();
        for (i, out) in outputs.iter().enumerate() {
            ensure_not_overwriting(out, &protected).user_fault()?;
            if let Some(j) = outputs[..i].iter().position(|o| o == out) {
                return Err(CliError::user(anyhow!(
                    "`{}` and `{}` would both be written to `{}`; rename one",
                    args.tracks[j].display(),
                    args.tracks[i].display(),
                    out.display()
                )));
            }
        }
        let written: Vec<(&str, &Path)> = outputs.iter().map(|o| ("output", o.as_path())).collect();
        for extra in [&args.report, &args.plot].into_iter().flatten() {
            ensure_not_overwriting(extra, &protected).user_fault()?;
            ensure_not_overwriting(extra, &written).user_fault()?;
        }
        Ok(())
    }

    /// Refuses outputs that are a file the graph read (a subgraph, a script): known only
    /// once it is compiled, still before anything is written.
    /// Refuses to write any output of `tracks` or any of `also_written` (the report, the
    /// plot) over a file the graph reads.
    fn check_graph_reads(
        &self,
        tracks: &[PathBuf],
        also_written: &[&Path],
        read_files: &[PathBuf],
    ) -> Result<(), CliError> {
        let protected: Vec<(&str, &Path)> = (read_files.iter())
            .map(|f| ("file the graph reads", f.as_path()))
            .collect();
        let outputs: Vec<PathBuf> = tracks.iter().map(|t| self.output_path(t)).collect();
        let written = (outputs.iter().map(PathBuf::as_path)).chain(also_written.iter().copied());
        for path in written {
            ensure_not_overwriting(path, &protected).user_fault()?;
        }
        Ok(())
    }

    fn run(&self, args: &AlbumArgs) -> Result<(), CliError> {
        let also_written: Vec<&Path> = (args.report.as_deref().into_iter())
            .chain(args.plot.as_deref())
            .collect();
        let (tracks, mut failed) = self.decode(&args.tracks, &also_written)?;
        let secs = origination_secs();
        let (finished, passes, codec_album_db) = self.solve(&tracks, secs)?;
        let mut reports = Vec::new();
        for result in finished {
            match result {
                Ok(r) => reports.push(r),
                Err(f) => failed.push(f),
            }
        }
        if self.album_tags() {
            failed.extend(self.write_with_album_tags(&tracks, &mut reports, secs)?);
        }
        let report = self.report(&tracks, reports, failed, passes, codec_album_db);
        if !args.quiet {
            print!("{}", table(&report));
        }
        if let Some(path) = &args.report {
            let json = serde_json::to_vec_pretty(&report).runtime_fault()?;
            write_atomically(path, |w| std::io::Write::write_all(w, &json))
                .map_err(|e| anyhow!("cannot write report `{}`: {e}", path.display()))
                .runtime_fault()?;
        }
        if let Some(path) = &args.plot {
            self.plot(path, &report)?;
        }
        if let Some(t) = self.target {
            self.warn_missed(&report, t);
        }
        if report.failed.is_empty() {
            Ok(())
        } else {
            let list: String = report
                .failed
                .iter()
                .map(|f| format!("\n  {}: {}", f.input, f.error))
                .collect();
            let error = anyhow!(
                "{} of {} track(s) failed; the others were written:{list}",
                report.failed.len(),
                args.tracks.len()
            );
            // A write that failed is exit 1 (as for `render`); bad input alone is 2.
            if report.failed.iter().any(|f| f.write_failed) {
                Err(CliError::runtime(error))
            } else {
                Err(CliError::user(error))
            }
        }
    }

    /// Draws the loudness over time of every delivered track, read back from its file
    /// (one at a time), one panel per track with the target line.
    fn plot(&self, path: &Path, report: &AlbumReport) -> Result<(), CliError> {
        let mut panels = Vec::with_capacity(report.tracks.len());
        for track in &report.tracks {
            let written = read_audio(Path::new(&track.output))
                .map_err(|e| anyhow!("cannot read `{}` to plot it: {e}", track.output))
                .runtime_fault()?;
            let mut panel = super::plot::loudness_panel(&written, self.target);
            panel.title = format!("Loudness over time: {}", track.output);
            panels.push(panel);
        }
        if panels.is_empty() {
            return Ok(());
        }
        let height = 320 * panels.len() as u32;
        crate::plot::draw_one_scale(path, 1200, height.max(400), &panels)
            .map_err(|e| anyhow!(e))
            .runtime_fault()
    }

    /// Warns about loudness outside the preset's tolerance (a chain that cannot get
    /// there in the passes allowed, e.g. a limiter already at its limit).
    fn warn_missed(&self, report: &AlbumReport, target: f64) {
        let tolerance = self.preset.tolerance_lu;
        let off = |l: Option<f64>| l.is_some_and(|l| (l - target).abs() > tolerance);
        match self.mode {
            AlbumMode::Track => {
                for r in report
                    .tracks
                    .iter()
                    .filter(|r| off(r.after.integrated_lufs))
                {
                    tracing::warn!(
                        "`{}` missed the target {target} LUFS: {} LUFS",
                        r.output,
                        lufs_text(r.after.integrated_lufs)
                    );
                }
            }
            AlbumMode::Album => {
                let album = report.album_after.as_ref().and_then(|a| a.integrated_lufs);
                if off(album) && self.shard == Shard::ALL {
                    let album = lufs_text(album);
                    tracing::warn!("the album missed the target {target} LUFS: {album} LUFS");
                }
            }
        }
    }

    /// Decodes every track (all of them in album mode: the album gain depends on every
    /// track; only the shard's in track mode) and checks them against the graph.
    fn decode(
        &self,
        paths: &[PathBuf],
        also_written: &[&Path],
    ) -> Result<(Vec<Track>, Vec<Failure>), CliError> {
        let wanted: Vec<(usize, &PathBuf)> = paths
            .iter()
            .enumerate()
            .filter(|(k, _)| self.mode == AlbumMode::Album || self.shard.contains(*k))
            .collect();
        // Each track is decoded and measured on its own, its audio dropped at once.
        let decoded: Vec<(usize, &PathBuf, Result<Probe, String>)> = wanted
            .into_par_iter()
            .map(|(k, p)| {
                let probe = read_audio(p).map_err(|e| e.to_string()).map(|a| Probe {
                    sample_rate_hz: a.sample_rate_hz,
                    channels: a.channel_count(),
                    before: measure(&a),
                });
                (k, p, probe)
            })
            .collect();
        let rate = decoded
            .iter()
            .find_map(|(_, _, a)| a.as_ref().ok().map(|a| a.sample_rate_hz));
        let Some(rate) = rate else {
            let list: String = decoded
                .iter()
                .filter_map(|(_, _, a)| a.as_ref().err())
                .map(|e| format!("\n  {e}"))
                .collect();
            return Err(CliError::user(anyhow!("no track could be read:{list}")));
        };
        let graph = super::load(&self.graph, &self.sets, f64::from(rate), self.block_frames)?;
        self.check_graph_reads(paths, also_written, &graph.info().read_files)?;
        let input = match (graph.inputs.as_slice(), graph.outputs.as_slice()) {
            ([i], [_]) => i.clone(),
            _ => {
                return Err(CliError::user(anyhow!(
                    "`{}`: lathe album needs a graph with one input and one output bus",
                    self.graph.display()
                )));
            }
        };
        let mut tracks = Vec::new();
        let mut failed = Vec::new();
        let mut first: Option<&PathBuf> = None;
        for (index, path, probe) in decoded {
            let checked = probe.and_then(|probe| {
                if probe.sample_rate_hz != rate {
                    return Err(format!(
                        "`{}` is {} Hz but `{}` is {rate} Hz; an album is rendered at one rate \
                         (convert the track first)",
                        path.display(),
                        probe.sample_rate_hz,
                        first.map_or_else(String::new, |p| p.display().to_string())
                    ));
                }
                if probe.channels != input.channels {
                    return Err(format!(
                        "`{}` has {} channel(s) but the graph's input bus `{}` takes {}",
                        path.display(),
                        probe.channels,
                        input.name,
                        input.channels
                    ));
                }
                Ok(probe)
            });
            match checked {
                Ok(probe) => {
                    first.get_or_insert(path);
                    tracks.push(Track {
                        index,
                        path: path.clone(),
                        sample_rate_hz: probe.sample_rate_hz,
                        before: probe.before,
                    });
                }
                Err(error) => failed.push(Failure {
                    input: path.display().to_string(),
                    error,
                    write_failed: false,
                }),
            }
        }
        Ok((tracks, failed))
    }

    /// Decodes `track` again and renders it at `gain_db`, at the delivery rate.
    fn render(&self, track: &Track, gain_db: f64) -> Result<Audio, CliError> {
        let gain = 10f64.powf(gain_db / 20.0) as f32;
        let mut audio = read_audio(&track.path)
            .map_err(|e| anyhow!("cannot read `{}` again: {e}", track.path.display()))
            .runtime_fault()?;
        audio.channels.iter_mut().flatten().for_each(|s| *s *= gain);
        let graph = super::load(
            &self.graph,
            &self.sets,
            f64::from(audio.sample_rate_hz),
            self.block_frames,
        )?;
        let mut rendered = super::render_audio(graph, vec![audio], &Progress::hidden());
        let audio = rendered.outputs.remove(0);
        // Loudness is measured at the delivery rate: resampling drops the band above the
        // new Nyquist, which K-weighting counts.
        let rate = self.delivery_rate_hz(audio.sample_rate_hz);
        resample(&audio, rate).map_err(|e| CliError::runtime(anyhow!(e)))
    }

    /// The rate tracks are delivered at: the preset's or the input's, moved to a rate
    /// the codec takes for a lossy format (Opus: 48 kHz; MP3: 44.1 or 48 kHz).
    fn delivery_rate_hz(&self, input_rate_hz: u32) -> u32 {
        let rate = self.preset.sample_rate_hz.unwrap_or(input_rate_hz);
        match self.format.codec() {
            Some(codec) => lathe_codecs::coded_rate_hz(codec, rate),
            None => rate,
        }
    }

    /// Renders and delivers `track` at `gain_db` when it is in this run's shard, its
    /// codec-safe search starting at `codec_from_db`.
    fn render_and_deliver(
        &self,
        track: &Track,
        gain_db: f64,
        codec_from_db: f64,
        secs: u64,
    ) -> Result<Option<Result<TrackReport, Failure>>, CliError> {
        if !self.shard.contains(track.index) {
            return Ok(None);
        }
        let audio = self.render(track, gain_db)?;
        Ok(Some(self.deliver_or_fail(
            track,
            gain_db,
            codec_from_db,
            audio,
            secs,
        )))
    }

    fn deliver_or_fail(
        &self,
        track: &Track,
        gain_db: f64,
        codec_from_db: f64,
        audio: Audio,
        secs: u64,
    ) -> Result<TrackReport, Failure> {
        self.deliver(track, gain_db, codec_from_db, audio, secs)
            .map_err(|(error, write_failed)| Failure {
                input: track.path.display().to_string(),
                error,
                write_failed,
            })
    }

    /// Finds the pre-gain of every track by the fixed iteration of
    /// [`crate::album::plan`] and delivers the tracks of the shard; returns what was
    /// delivered (in track order), the number of passes and the album's codec-safe gain
    /// ([`Job::album_codec_gain_db`]).
    fn solve(&self, tracks: &[Track], secs: u64) -> Result<Solved, CliError> {
        let Some(target) = self.target else {
            let codec_db = self.album_codec_gain_db(tracks, &vec![0.0; tracks.len()])?;
            let finished: Vec<Option<_>> = tracks
                .par_iter()
                .map(|t| self.render_and_deliver(t, 0.0, codec_db.unwrap_or(0.0), secs))
                .collect::<Result<_, CliError>>()?;
            return Ok((finished.into_iter().flatten().collect(), 1, codec_db));
        };
        match self.mode {
            AlbumMode::Track => {
                // Each track settles on its own; the settled render is delivered as is.
                let results: Vec<(Result<TrackReport, Failure>, usize)> = tracks
                    .par_iter()
                    .filter(|t| self.shard.contains(t.index))
                    .map(|t| {
                        let mut search =
                            GainSearch::new(target, t.before.analysis().integrated_lufs);
                        let mut pass = 0;
                        loop {
                            pass += 1;
                            let gain = search.gain_db();
                            let audio = self.render(t, gain)?;
                            let after = measure(&audio).analysis().integrated_lufs;
                            if search.step(after) || pass == MAX_PASSES {
                                let delivered = self.deliver_or_fail(t, gain, 0.0, audio, secs);
                                return Ok((delivered, pass));
                            }
                        }
                    })
                    .collect::<Result<_, CliError>>()?;
                let passes = results.iter().map(|r| r.1).max().unwrap_or(0);
                Ok((results.into_iter().map(|r| r.0).collect(), passes, None))
            }
            AlbumMode::Album => {
                let (gains, passes) = self.solve_album(tracks, target)?;
                let codec_db = self.album_codec_gain_db(tracks, &gains)?;
                let finished: Vec<Option<_>> = tracks
                    .par_iter()
                    .zip(gains.par_iter())
                    .map(|(t, &g)| self.render_and_deliver(t, g, codec_db.unwrap_or(0.0), secs))
                    .collect::<Result<_, CliError>>()?;
                Ok((finished.into_iter().flatten().collect(), passes, codec_db))
            }
        }
    }

    /// One album gain found by the secant rule on the album's loudness; a track whose
    /// loudness relative to the album moves more than [`RELATIVE_SETTLE_LU`] from the
    /// mix's gets a trim that undoes the move on the next pass. Returns every track's
    /// gain and the number of passes; a pass keeps only the measurements.
    fn solve_album(&self, tracks: &[Track], target: f64) -> Result<(Vec<f64>, usize), CliError> {
        let before_album =
            album_of(tracks.iter().map(|t| &t.before)).and_then(|a| a.integrated_lufs);
        let before: Vec<Option<f64>> = tracks
            .iter()
            .map(|t| t.before.analysis().integrated_lufs)
            .collect();
        let mut search = GainSearch::new(target, before_album);
        let mut trims = vec![0.0; tracks.len()];
        let mut pass = 0;
        loop {
            pass += 1;
            let gains: Vec<f64> = trims.iter().map(|t| search.gain_db() + t).collect();
            let states: Vec<FileState> = tracks
                .par_iter()
                .zip(gains.par_iter())
                .map(|(t, &g)| self.render(t, g).map(|audio| measure(&audio)))
                .collect::<Result<_, CliError>>()?;
            let album = album_of(&states).and_then(|a| a.integrated_lufs);
            let mut relative_settled = true;
            if let (Some(a_after), Some(a_before)) = (album, before_album) {
                for ((state, b), trim) in states.iter().zip(&before).zip(trims.iter_mut()) {
                    if let (Some(after), Some(b)) = (state.analysis().integrated_lufs, b) {
                        let drift = (after - a_after) - (b - a_before);
                        if drift.abs() > RELATIVE_SETTLE_LU {
                            *trim -= drift;
                            relative_settled = false;
                        }
                    }
                }
            }
            let album_settled = search.step(album);
            if (album_settled && relative_settled) || pass == MAX_PASSES {
                return Ok((gains, pass));
            }
        }
    }

    /// With codecs to keep safe, turns `audio` down until each decodes at or under the
    /// ceiling, starting from `from_db` (0, or the album's codec-safe gain), and says what
    /// it chose.
    fn codec_safe(&self, audio: &mut Audio, from_db: f64) -> Result<Option<CodecSafe>, String> {
        let specs = codec_safe_specs(&self.preset)?;
        if specs.is_empty() {
            return Ok(None);
        }
        let chosen = codec_safe::search_from(audio, &specs, self.preset.ceiling_dbtp, from_db)?;
        apply_gain(audio, chosen.gain_db);
        Ok(Some(chosen))
    }

    /// The album's codec-safe gain, in album mode with codecs to keep safe and every
    /// track in this run: each track's own codec-safe gain is searched (at its album gain,
    /// after its safety gain) and the lowest is the album's, so every track is turned
    /// down as far as the one whose decode overshoots most and the album keeps its
    /// relative levels. `None` otherwise (each track then finds its own, from 0 dB). A
    /// track whose search fails is left to fail when it is delivered.
    fn album_codec_gain_db(
        &self,
        tracks: &[Track],
        gains: &[f64],
    ) -> Result<Option<f64>, CliError> {
        let specs = codec_safe_specs(&self.preset).map_err(|e| CliError::user(anyhow!(e)))?;
        if specs.is_empty() || self.mode != AlbumMode::Album || self.shard != Shard::ALL {
            return Ok(None);
        }
        let own: Vec<Option<f64>> = tracks
            .par_iter()
            .zip(gains.par_iter())
            .map(|(t, &g)| {
                let mut audio = self.render(t, g)?;
                self.safety_gain(&mut audio);
                let found = codec_safe::search(&audio, &specs, self.preset.ceiling_dbtp);
                Ok(found.ok().map(|c| c.gain_db))
            })
            .collect::<Result<_, CliError>>()?;
        Ok(Some(own.into_iter().flatten().fold(0.0, f64::min)))
    }

    /// Whether the files carry album loudness tags (ReplayGain album fields, R128 album
    /// gain): FLAC, MP3, Opus and M4A deliveries of a whole album (a shard knows only its own
    /// tracks). They are written after every track has been delivered and measured.
    fn album_tags(&self) -> bool {
        self.format != DeliveryFormat::Wav && self.shard == Shard::ALL
    }

    /// Writes every delivered track again with the album's loudness tags: the album is
    /// measured as one programme (BS.1770 gated over every delivered track together, as
    /// ReplayGain 2.0 album gain), then each track is rendered once more at its gain
    /// (renders are deterministic: the same samples) and written. Tracks whose second
    /// write fails move from `reports` to the returned failures.
    fn write_with_album_tags(
        &self,
        tracks: &[Track],
        reports: &mut Vec<TrackReport>,
        secs: u64,
    ) -> Result<Vec<Failure>, CliError> {
        let Some(album) = album_of(reports.iter().map(|r| &r.after_state)) else {
            return Ok(Vec::new());
        };
        let results: Vec<Result<(), Failure>> = reports
            .par_iter()
            .map(|report| {
                let Some(track) = tracks.iter().find(|t| t.index == report.index) else {
                    return Ok(Ok(()));
                };
                let audio = self.render(track, report.gain_db)?;
                let written = self
                    .prepare(track, report.gain_db, audio, known_codec_gain(report))
                    .and_then(|(audio, _)| self.write_track(&audio, report, secs, Some(&album)));
                Ok(written.map_err(|(error, write_failed)| Failure {
                    input: track.path.display().to_string(),
                    error,
                    write_failed,
                }))
            })
            .collect::<Result<_, CliError>>()?;
        let mut failed = Vec::new();
        let mut kept = Vec::new();
        for (report, result) in std::mem::take(reports).into_iter().zip(results) {
            match result {
                Ok(()) => kept.push(report),
                Err(f) => failed.push(f),
            }
        }
        *reports = kept;
        Ok(failed)
    }

    /// Keeps the ceiling, dithers, tags and writes one track (already at the delivery
    /// rate). With album tags to come, the file is written later
    /// ([`Job::write_with_album_tags`]) and only measured here.
    fn deliver(
        &self,
        track: &Track,
        gain_db: f64,
        codec_from_db: f64,
        audio: Audio,
        secs: u64,
    ) -> Result<TrackReport, (String, bool)> {
        let (audio, report) =
            self.prepare(track, gain_db, audio, CodecGain::SearchFrom(codec_from_db))?;
        if !self.album_tags() {
            self.write_track(&audio, &report, secs, None)?;
        }
        Ok(report)
    }

    /// Turns `audio` down when its true peak is within half the safety margin of the
    /// ceiling (or over it), to the margin under it; the gain applied, in dB.
    fn safety_gain(&self, audio: &mut Audio) -> f64 {
        let ceiling = self.preset.ceiling_dbtp;
        let peak = measure(audio).analysis().true_peak_dbtp;
        let safety_gain_db = match peak {
            Some(p) if p > ceiling - SAFETY_MARGIN_DB / 2.0 => ceiling - SAFETY_MARGIN_DB - p,
            _ => 0.0,
        };
        if safety_gain_db != 0.0 {
            let g = 10f64.powf(safety_gain_db / 20.0) as f32;
            audio.channels.iter_mut().flatten().for_each(|s| *s *= g);
        }
        safety_gain_db
    }

    /// The delivered samples of one track and what the report says of them: the safety
    /// gain, the codec-safe gain (searched, or known from an earlier pass) and dither.
    fn prepare(
        &self,
        track: &Track,
        gain_db: f64,
        mut audio: Audio,
        codec_gain: CodecGain<'_>,
    ) -> Result<(Audio, TrackReport), (String, bool)> {
        let not_written = |e: String| (e, false);
        let safety_gain_db = self.safety_gain(&mut audio);
        let codec_safe = match codec_gain {
            CodecGain::Known(chosen) => {
                apply_gain(&mut audio, chosen.gain_db);
                Some(chosen.clone())
            }
            CodecGain::SearchFrom(from_db) => {
                self.codec_safe(&mut audio, from_db).map_err(not_written)?
            }
        };
        let config = format!(
            "(channels: {}, bits: {}, shaping: \"{}\", seed: {})",
            audio.channel_count(),
            self.preset.bits,
            self.preset.shaping,
            track.index + 1
        );
        let audio =
            crate::album::node_run::run_node(&DitherKind, &config, &audio).map_err(not_written)?;
        let after_state = measure(&audio);
        let after = after_state.analysis();
        let mut tags = self.manifest.tags_for(&track.path, track.index);
        if let Some(isrc) = &tags.isrc {
            tags.isrc = Some(check_isrc(isrc).map_err(not_written)?);
        }
        let report = TrackReport {
            index: track.index,
            after_state,
            input: track.path.display().to_string(),
            output: self.output_path(&track.path).display().to_string(),
            gain_db,
            safety_gain_db,
            codec_safe,
            before: track.before.analysis(),
            after,
            tags,
            platforms: None,
        };
        Ok((audio, report))
    }

    /// Writes one delivered track with its tags (and the album's loudness tags when
    /// `album` is given), atomically.
    fn write_track(
        &self,
        audio: &Audio,
        report: &TrackReport,
        secs: u64,
        album: Option<&FileAnalysis>,
    ) -> Result<(), (String, bool)> {
        let not_written = |e: String| (e, false);
        let after = &report.after;
        let tags = &report.tags;
        let (date, time) = bext_date_time(secs);
        let mut description = format!("Mastered by lathe, preset {}", self.preset.name);
        if let Some(c) = &report.codec_safe {
            description.push_str(&codec_safe_note(c));
        }
        let loudness = BextLoudness {
            integrated_lufs: after.integrated_lufs,
            range_lu: after.loudness_range_lu,
            true_peak_dbtp: after.true_peak_dbtp,
            momentary_max_lufs: after.momentary_max_lufs,
            short_term_max_lufs: after.short_term_max_lufs,
        };
        let out = Path::new(&report.output);
        match self.format {
            DeliveryFormat::Wav => {
                let mut bext = bext_chunk(&description, &date, &time, &loudness);
                if let Some(p) = &self.provenance {
                    let history = p.coding_history(
                        audio.sample_rate_hz,
                        self.preset.bits,
                        audio.channel_count(),
                    );
                    bext.extend_from_slice(history.as_bytes());
                }
                write_pcm_wav(out, audio, self.preset.bits, &bext, &info_chunk(tags))
                    .map_err(|e| (e.to_string(), true))?;
            }
            DeliveryFormat::Flac => {
                let mut comments = vorbis_comments(tags, &description, &loudness);
                comments.extend(self.provenance.iter().flat_map(Provenance::vorbis_comments));
                comments.extend(replaygain::replaygain_track_tags(after));
                comments.extend(
                    album
                        .map(replaygain::replaygain_album_tags)
                        .unwrap_or_default(),
                );
                write_flac(out, audio, self.preset.bits, Quantisation::Exact, &comments)
                    .map_err(|e| (e.to_string(), true))?;
            }
            DeliveryFormat::Mp3 | DeliveryFormat::Opus | DeliveryFormat::M4a => {
                let codec = self.format.codec().unwrap_or(lathe_codecs::Codec::Mp3);
                let spec = self
                    .lossy
                    .unwrap_or_else(|| lossy_output::default_spec(codec));
                let described = [("DESCRIPTION".to_string(), description.clone())];
                let bytes = lossy_output::encode_lossy(spec, audio, &described, after, album)
                    .map_err(|e| not_written(e.to_string()))?;
                write_atomically(out, |w| std::io::Write::write_all(w, &bytes))
                    .map_err(|e| (e.to_string(), true))?;
            }
        }
        Ok(())
    }

    fn report(
        &self,
        tracks: &[Track],
        reports: Vec<TrackReport>,
        failed: Vec<Failure>,
        passes: usize,
        codec_safe_album_db: Option<f64>,
    ) -> AlbumReport {
        let spread = |v: Vec<f64>| {
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            (max >= min).then_some(max - min)
        };
        // Album figures cover the tracks of this run: every track unless sharded.
        let in_run = |t: &&Track| reports.iter().any(|r| r.index == t.index);
        let album_before = album_of(tracks.iter().filter(in_run).map(|t| &t.before));
        let album_after = album_of(reports.iter().map(|r| &r.after_state));
        let before_lufs: Vec<f64> = reports
            .iter()
            .filter_map(|r| r.before.integrated_lufs)
            .collect();
        let after_lufs: Vec<f64> = reports
            .iter()
            .filter_map(|r| r.after.integrated_lufs)
            .collect();
        let relative = {
            let b = album_before.as_ref().and_then(|a| a.integrated_lufs);
            let a = album_after.as_ref().and_then(|a| a.integrated_lufs);
            reports
                .iter()
                .filter_map(|r| {
                    Some(((r.after.integrated_lufs? - a?) - (r.before.integrated_lufs? - b?)).abs())
                })
                .reduce(f64::max)
        };
        let preview = |a: &FileAnalysis| {
            (self.platforms.as_deref()).and_then(|t| super::analyze::platform_previews(t, a))
        };
        let mut reports = reports;
        for r in &mut reports {
            r.platforms = preview(&r.after);
        }
        let album_platforms = album_after.as_ref().and_then(preview);
        AlbumReport {
            graph: self.graph.display().to_string(),
            mode: self.mode,
            format: self.format,
            codec: self.lossy.map(|spec| spec.to_string()),
            preset: self.preset.name.clone(),
            target_lufs: self.target,
            tolerance_lu: self.preset.tolerance_lu,
            ceiling_dbtp: self.preset.ceiling_dbtp,
            sample_rate_hz: self
                .preset
                .sample_rate_hz
                .unwrap_or(tracks.first().map_or(0, |t| t.sample_rate_hz)),
            bits: self.preset.bits,
            dither: format!(
                "dither node kind, TPDF, shaping \"{}\"",
                self.preset.shaping
            ),
            passes,
            codec_safe_album_db,
            shard: format!("{}/{}", self.shard.index, self.shard.count),
            album_before,
            album_after,
            album_platforms,
            spread: Spread {
                before_lu: spread(before_lufs),
                after_lu: spread(after_lufs),
                max_relative_change_lu: relative,
            },
            tracks: reports,
            failed,
        }
    }
}

/// Multiplies every sample by `gain_db` (nothing at exactly 0 dB).
fn apply_gain(audio: &mut Audio, gain_db: f64) {
    if gain_db != 0.0 {
        let g = 10f64.powf(gain_db / 20.0) as f32;
        audio.channels.iter_mut().flatten().for_each(|s| *s *= g);
    }
}

fn figure(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

/// The readable report: one row per track, before -> after, and the album.
fn table(report: &AlbumReport) -> String {
    let mut out = format!(
        "{} mode, preset {}, target {}, ceiling {} dBTP, {} Hz {}-bit, {} pass(es)\n",
        match report.mode {
            AlbumMode::Album => "album",
            AlbumMode::Track => "track",
        },
        report.preset,
        report
            .target_lufs
            .map_or("none".to_string(), |t| format!("{t} LUFS")),
        report.ceiling_dbtp,
        report.sample_rate_hz,
        report.bits,
        report.passes
    );
    let _ = writeln!(
        out,
        "{:<24} {:>15} {:>13} {:>15} {:>13} {:>7} {:>7}",
        "track", "integrated LUFS", "LRA LU", "true peak dBTP", "PLR dB", "gain dB", "safety"
    );
    let row = |out: &mut String,
               name: &str,
               b: &FileAnalysis,
               a: &FileAnalysis,
               gain: String,
               safety: String| {
        let pair = |x: Option<f64>, y: Option<f64>| format!("{} > {}", figure(x), figure(y));
        let _ = writeln!(
            out,
            "{:<24} {:>15} {:>13} {:>15} {:>13} {:>7} {:>7}",
            name,
            pair(b.integrated_lufs, a.integrated_lufs),
            pair(b.loudness_range_lu, a.loudness_range_lu),
            pair(b.true_peak_dbtp, a.true_peak_dbtp),
            pair(b.plr_db, a.plr_db),
            gain,
            safety
        );
    };
    for t in &report.tracks {
        let name = Path::new(&t.input)
            .file_name()
            .map_or(t.input.clone(), |n| n.to_string_lossy().into_owned());
        row(
            &mut out,
            &name,
            &t.before,
            &t.after,
            format!("{:+.2}", t.gain_db),
            format!("{:+.2}", t.safety_gain_db),
        );
    }
    if let (Some(b), Some(a)) = (&report.album_before, &report.album_after) {
        row(&mut out, "album", b, a, String::new(), String::new());
    }
    let _ = writeln!(
        out,
        "spread of track loudness: {} LU before, {} LU after; largest relative change {} LU",
        figure(report.spread.before_lu),
        figure(report.spread.after_lu),
        figure(report.spread.max_relative_change_lu)
    );
    for t in &report.tracks {
        if let Some(previews) = &t.platforms {
            let _ = writeln!(out, "{}: on streaming platforms", t.output);
            out.push_str(&platforms::table(previews));
        }
    }
    if let Some(previews) = &report.album_platforms {
        let _ = writeln!(out, "album (one programme): on streaming platforms");
        out.push_str(&platforms::table(previews));
    }
    if let Some(gain_db) = report.codec_safe_album_db {
        let _ = writeln!(
            out,
            "codec-safe for the album: {gain_db:+.2} dB on every track (what the track whose \
             decode overshoots most needs), so the tracks keep their relative levels"
        );
    }
    for t in &report.tracks {
        if let Some(c) = &t.codec_safe {
            let _ = writeln!(
                out,
                "{}: codec-safe in {} pass(es){}",
                t.output,
                c.passes,
                codec_safe_note(c)
            );
        }
    }
    for f in &report.failed {
        let _ = writeln!(out, "FAILED {}: {}", f.input, f.error);
    }
    out
}

/// A loudness for a message: one decimal, as the report table prints it.
fn lufs_text(lufs: Option<f64>) -> String {
    lufs.map_or_else(|| "-".to_string(), |l| format!("{l:.1}"))
}
