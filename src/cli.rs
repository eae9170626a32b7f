//! The command line: subcommands, their arguments, and parsers that reject bad values
//! with a message naming the argument, the value found and the values allowed.
//!
//! clap reports a rejected value as a usage error (exit code 2) before any command runs,
//! so the commands themselves only ever see validated arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lathe_engine::ParamValue;

use crate::audio_io::SampleFormat;

/// Frames per processing block when `--block-frames` is not given.
pub const DEFAULT_BLOCK_FRAMES: usize = 512;
/// Largest block `--block-frames` accepts.
pub const MAX_BLOCK_FRAMES: usize = 65_536;

const ABOUT: &str = "A node-graph audio engine for mastering.";

const LONG_ABOUT: &str = "\
A node-graph audio engine for mastering.

A mastering chain is a graph in a RON file: nodes (EQ, compressors, limiters, meters...)
and the links between them. lathe renders audio files through it, checks it, draws it,
and measures files.";

const AFTER_LONG_HELP: &str = "\
Examples:
  lathe render graphs/master.ron --demo -o demo-master.wav --preset streaming
      Master the built-in demo mix to -14 LUFS, -1 dBTP (no input file needed).
  lathe render graphs/master.ron song.wav -o song-master.wav --target-lufs -12 --bits 16
      Master a file to -12 LUFS as 16-bit WAV (dithered).
  lathe check graphs/master.ron
      Validate a graph and print its nodes and latency.
  lathe nodes
      List every node kind; `lathe nodes limiter` describes one.
  lathe analyze song.wav song-master.wav
      Measure loudness and peaks of files.

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to see more.
Exit codes: 0 success, 1 failure while running, 2 bad arguments, graph or input.";

#[derive(Debug, Parser)]
#[command(name = "lathe", version, about = ABOUT, long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render audio files through a graph into a WAV or FLAC file.
    #[command(after_long_help = RENDER_EXAMPLES)]
    Render(RenderArgs),
    /// Validate a graph: print its nodes, params and latency, or every problem found.
    #[command(after_long_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Print a graph in Graphviz DOT format (pipe it to `dot -Tsvg`).
    #[command(after_long_help = DOT_EXAMPLES)]
    Dot(DotArgs),
    /// List node kinds, or describe one: ports, config, params, meters, latency.
    #[command(after_long_help = NODES_EXAMPLES)]
    Nodes(NodesArgs),
    /// Measure audio files: loudness, true peak, loudness range, sample peak.
    #[command(after_long_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Run a graph live as a JACK client: hot reload, live control, meters.
    #[command(after_long_help = RUN_EXAMPLES)]
    Run(crate::commands::live::RunArgs),
    /// Master an album: every track through a graph to one loudness, in a delivery format.
    #[command(after_long_help = ALBUM_EXAMPLES)]
    Album(AlbumArgs),
    /// Master a catalogue of albums as array-job tasks: sharded, resumable, with manifests.
    Catalog(CatalogArgs),
    /// Compare a mix with a reference at matched loudness: levels, spectrum, EQ match.
    #[command(after_long_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Draw loudness over time, spectra, EQ responses or the graph as PNG or SVG.
    #[command(after_long_help = PLOT_EXAMPLES)]
    Plot(PlotArgs),
    /// List the installed LV2 and CLAP plugins a graph can host: ports, latency, params.
    #[command(after_long_help = PLUGINS_EXAMPLES)]
    Plugins(PluginsArgs),
    /// Encode files with lossy codecs, decode them back aligned and report the overs.
    CodecCheck(CodecCheckArgs),
}

const PLUGINS_EXAMPLES: &str = "\
Examples:
  lathe plugins
  lathe plugins dpl
  lathe plugins --latency dpl            (build each to read the latency it reports)
  lathe plugins --json para_equalizer > eq.json
  lathe nodes lv2 --uri http://gareus.org/oss/lv2/dpl#stereo

See docs/plugins.md for the `lv2` node kind.";

#[derive(Debug, Args)]
pub struct PluginsArgs {
    /// Only plugins whose URI, id or name contains this text (case-insensitive).
    pub filter: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Build each LV2 plugin that has a latency port once to read its latency (slow:
    /// seconds for a few hundred plugins). Without it, those plugins' latency is shown
    /// as not measured; plugins without a latency port have none.
    #[arg(long)]
    pub latency: bool,
}

const ALBUM_EXAMPLES: &str = "\
Examples:
  lathe album graphs/master.ron 01.wav 02.wav 03.wav -o out/ --preset streaming
  lathe album graphs/master.ron *.flac -o out/ --mode track --target-lufs -16 --report album.json
  lathe album graphs/master.ron *.wav -o out/ --preset cd --manifest tracks.json
  lathe album graphs/master.ron *.wav -o out/ --preset cd --format flac
  lathe album graphs/master.ron *.wav -o out/ --shard 3/8      (one slice of an array job)
  lathe album --list-presets

See docs/album.md for the gain iteration, presets, metadata and sharding.";

const COMPARE_EXAMPLES: &str = "\
Examples:
  lathe compare mix.wav reference.wav
  lathe compare mix.wav reference.wav --json --plot diff.png
  lathe compare mix.wav reference.wav --match-eq match.ron --strength 50
  lathe compare mix.wav reference.wav --match match.ron --plot match.png
  lathe compare mix.wav --reference reference.wav --reference ref.wav --weight 2 --weight 1 --match match.ron
  lathe compare mix.wav reference.wav --match match.ron --width-strength 0 --max-gain-db 6

See docs/matching.md for the fit, the strengths and the limits.";

const PLOT_EXAMPLES: &str = "\
Examples:
  lathe plot loudness song.wav -o loudness.png --target-lufs -14
  lathe plot spectrum mix.wav --reference ref.wav -o spectrum.svg
  lathe plot response graphs/master.ron -o eq.png
  lathe plot response graphs/master.ron -o eq.png --node eq --whole --data eq.csv
  lathe plot graph graphs/master.ron -o graph.svg
  lathe plot graph graphs/master.ron -o graph.png";

/// Whether an album gets one gain or each track its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlbumMode {
    /// One gain for all tracks: the album as one programme hits the target.
    Album,
    /// Each track hits the target on its own.
    Track,
}

/// The file format `lathe album` delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryFormat {
    /// PCM WAV with `LIST`/`INFO` tags and a BWF `bext` chunk with the loudness.
    Wav,
    /// FLAC with the tags and the loudness as Vorbis comments.
    Flac,
    /// MP3 (LAME, 320 kbps CBR) with ReplayGain 2.0 track and album tags (ID3v2 `TXXX`)
    /// and a LAME tag for gapless playback.
    Mp3,
    /// Ogg Opus (libopus, 160 kbps VBR, 48 kHz) with `R128_TRACK_GAIN` and
    /// `R128_ALBUM_GAIN` (RFC 7845).
    Opus,
    /// AAC-LC in `.m4a` (libfdk-aac, 256 kbps CBR) with ReplayGain 2.0 track and album
    /// tags (iTunes freeform items) and an edit list for gapless playback.
    #[value(alias = "aac")]
    M4a,
}

impl DeliveryFormat {
    /// The lossy codec of this format, if it is lossy.
    pub fn codec(self) -> Option<lathe_codecs::Codec> {
        match self {
            DeliveryFormat::Mp3 => Some(lathe_codecs::Codec::Mp3),
            DeliveryFormat::Opus => Some(lathe_codecs::Codec::Opus),
            DeliveryFormat::M4a => Some(lathe_codecs::Codec::Aac),
            DeliveryFormat::Wav | DeliveryFormat::Flac => None,
        }
    }

    /// The file name extension of delivered files (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            DeliveryFormat::Wav => "wav",
            DeliveryFormat::Flac => "flac",
            DeliveryFormat::Mp3 => "mp3",
            DeliveryFormat::Opus => "opus",
            DeliveryFormat::M4a => "m4a",
        }
    }
}

#[derive(Debug, Args)]
pub struct AlbumArgs {
    /// The graph file (.ron): one input and one output bus.
    #[arg(required_unless_present_any = ["list_presets", "preset"])]
    pub graph: Option<PathBuf>,

    /// The tracks, in album order (WAV, FLAC, OGG Vorbis, MP3).
    #[arg(value_name = "TRACK")]
    pub tracks: Vec<PathBuf>,

    /// Output folder (created if missing); each track keeps its base name, as .wav or
    /// .flac.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Delivery file format (bit depth and rate come from the preset).
    #[arg(long, value_enum, default_value_t = DeliveryFormat::Wav)]
    pub format: DeliveryFormat,

    /// Codec setting of a lossy --format: CODEC:KBPS[:MODE], e.g. opus:128, mp3:256:vbr
    /// or aac:192; its codec must be the format's (default: opus:160, mp3:320, aac:256).
    #[arg(long, value_name = "CODEC:KBPS", value_parser = parse_codec)]
    pub codec: Option<lathe_codecs::CodecSpec>,

    /// Turn each track down until these codecs decode it at or under the ceiling
    /// (CODEC:KBPS,..., e.g. opus:128,mp3:320,aac:256); replaces the preset's `codec_safe`.
    #[arg(long, value_name = "CODEC:KBPS,...")]
    pub codec_safe: Option<String>,

    /// Preview each streaming platform's loudness normalisation of every delivered track
    /// and of the album, in the report and the table (the built-in table
    /// presets/platforms.ron, or `--platforms=FILE` for your own).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub platforms: Option<Option<PathBuf>>,

    /// album: one gain for the whole album; track: every track to the target.
    #[arg(long, value_enum, default_value_t = AlbumMode::Album)]
    pub mode: AlbumMode,

    /// Integrated loudness to reach, in LUFS (overrides the preset's).
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true, value_parser = parse_target)]
    pub target_lufs: Option<f64>,

    /// Delivery preset: streaming, broadcast, podcast, cd, or a .ron file. Without a
    /// value, lists the presets.
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub preset: Option<String>,

    /// List the delivery presets and exit.
    #[arg(long)]
    pub list_presets: bool,

    /// Tracks rendered at once (default: every core). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Write the before/after report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also draw every delivered track's loudness over time (one panel per track, with
    /// the target line) to this PNG or SVG file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// Print nothing but errors and warnings.
    #[arg(short, long)]
    pub quiet: bool,

    /// Process one slice I/N of the tracks: track k (from 0) when k mod N = I.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::album::shard::Shard>,

    /// Tags per track (title, artist, album, track, isrc) from a JSON or RON file.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// Artist of every track (a manifest entry wins).
    #[arg(long, value_name = "NAME")]
    pub artist: Option<String>,

    /// Album title of every track (a manifest entry wins).
    #[arg(long, value_name = "TITLE")]
    pub album_title: Option<String>,

    #[command(flatten)]
    pub sets: SetArgs,

    /// Frames per processing block, 1..=65536 (results do not depend on it).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BLOCK_FRAMES,
        value_parser = parse_block_frames)]
    pub block_frames: usize,
}

const CATALOG_EXAMPLES: &str = "\
Examples:
  lathe catalog run master.ron catalogue.csv -o /delivery --preset streaming
  lathe catalog run master.ron catalogue.jsonl -o /delivery --shard auto     (in an array job)
  lathe catalog run master.ron catalogue.csv -o /delivery --shard 3/16 --template '{album_id}/{track:02}.{ext}'
  lathe catalog status catalogue.csv -o /delivery
  lathe catalog merge catalogue.csv -o /delivery --json report.json --csv report.csv

Exit codes: 0 all done; 3 some units failed (the others are delivered); 2 bad invocation
or catalogue (nothing rendered); 1 failure of the run itself; status/merge: 4 some units
pending. See docs/catalog.md.";

#[derive(Debug, Args)]
#[command(after_long_help = CATALOG_EXAMPLES)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub command: CatalogCommand,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Master this task's units of a catalogue, skipping those already done.
    Run(CatalogRunArgs),
    /// Count units done, failed and pending across every task's manifest.
    Status(CatalogReportArgs),
    /// Merge every task's manifest into one report (JSON and/or CSV).
    Merge(CatalogReportArgs),
}

#[derive(Debug, Args)]
pub struct CatalogRunArgs {
    /// The graph file (.ron): one input and one output bus.
    pub graph: PathBuf,
    /// The catalogue: .csv (with a header) or .jsonl, one row per track.
    pub catalogue: PathBuf,
    /// Output folder; every output path is the template filled in under it.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Output path template, relative to DIR. Fields: artist, album_artist, album,
    /// album_id, track (`{track:02}` pads), title, isrc, stem, ext.
    #[arg(long, value_name = "TEMPLATE", default_value = crate::catalog::template::DEFAULT_TEMPLATE)]
    pub template: String,
    /// Replace unsafe characters in field values with `_` instead of refusing them.
    #[arg(long)]
    pub sanitize: bool,
    /// album: a unit is an album, one gain for it; track: a unit is a track.
    #[arg(long, value_enum, default_value_t = AlbumMode::Album)]
    pub mode: AlbumMode,
    #[arg(long, value_enum, default_value_t = DeliveryFormat::Wav)]
    pub format: DeliveryFormat,
    /// Delivery preset for rows without one (streaming, broadcast, podcast, cd, or a .ron file).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Loudness target for rows without one, in LUFS (overrides the preset's).
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true, value_parser = parse_target)]
    pub target_lufs: Option<f64>,
    /// This task's slice: I/N, or `auto` from Slurm, AWS Batch or Kubernetes variables.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<crate::catalog::shard::ShardArg>,
    /// Task count for `--shard auto` where the scheduler does not give it (Kubernetes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,
    /// Manifest folder (default: DIR/.lathe-catalog); one task-NNNN.jsonl per task.
    #[arg(long, value_name = "DIR")]
    pub manifest_dir: Option<PathBuf>,
    /// Decode every delivered file again and record what it reads as.
    #[arg(long)]
    pub verify: bool,
    /// Master every unit of the slice again, even those recorded as done.
    #[arg(long)]
    pub force: bool,
    /// Threads (default: every core). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    #[command(flatten)]
    pub sets: SetArgs,
    /// Print nothing but errors, warnings and the summary line.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CatalogReportArgs {
    /// The catalogue the tasks ran.
    pub catalogue: PathBuf,
    /// The output folder of the run (its manifests are in DIR/.lathe-catalog).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// The manifest folder, if the run was given one.
    #[arg(long, value_name = "DIR")]
    pub manifest_dir: Option<PathBuf>,
    /// The mode of the run (it decides what a unit is).
    #[arg(long, value_enum, default_value_t = AlbumMode::Album)]
    pub mode: AlbumMode,
    /// Write the merged report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged report as CSV, one row per track.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

fn parse_target(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (-70.0..=0.0).contains(&v) => Ok(v),
        _ => Err("must be a loudness in -70..=0 LUFS".to_string()),
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The mix to judge.
    pub mix: PathBuf,
    /// The reference it is compared with (or give them with --reference).
    pub reference: Option<PathBuf>,
    /// A further reference; several are averaged at matched loudness.
    #[arg(long = "reference", value_name = "FILE")]
    pub references: Vec<PathBuf>,
    /// Weight of each reference in the average, in the order given (default 1 each).
    #[arg(long = "weight", value_name = "W", value_parser = parse_weight)]
    pub weights: Vec<f64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Draw the spectra of mix, reference and matched mix, and their differences, to this
    /// PNG or SVG file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write an `eq` node that moves the mix towards the reference, as RON.
    #[arg(long, value_name = "FILE")]
    pub match_eq: Option<PathBuf>,
    /// Write a graph that matches the mix to the reference: EQ, width, loudness.
    #[arg(long = "match", value_name = "FILE")]
    pub match_graph: Option<PathBuf>,
    /// How much of every difference the match corrects, 0..=100 %.
    #[arg(long, value_name = "PCT", default_value_t = 100.0,
        value_parser = parse_strength)]
    pub strength: f64,
    /// Strength of the tonal (EQ) match; default --strength.
    #[arg(long, value_name = "PCT", value_parser = parse_strength)]
    pub eq_strength: Option<f64>,
    /// Strength of the width match; default --strength.
    #[arg(long, value_name = "PCT", value_parser = parse_strength)]
    pub width_strength: Option<f64>,
    /// Strength of the loudness match; default --strength.
    #[arg(long, value_name = "PCT", value_parser = parse_strength)]
    pub loudness_strength: Option<f64>,
    /// Largest boost or cut of a fitted band, dB.
    #[arg(long, value_name = "DB", default_value_t = crate::matching::fit::DEFAULT_MAX_GAIN_DB,
        value_parser = parse_max_gain)]
    pub max_gain_db: f64,
    /// Fitted bells per octave, 0.5..=6.
    #[arg(long, value_name = "N", default_value_t = crate::matching::fit::DEFAULT_BANDS_PER_OCTAVE,
        value_parser = parse_bands_per_octave)]
    pub bands_per_octave: f64,
    /// Q of the fitted bells, 0.3..=10 (default: from the spacing, 1.5 spacings wide).
    #[arg(long, value_name = "Q", value_parser = parse_q)]
    pub q: Option<f64>,
    /// Width of the spectral smoothing in octaves, 1/24..=1 (default 1/3).
    #[arg(long, value_name = "OCT", default_value_t = crate::matching::curve::DEFAULT_SMOOTHING_OCTAVES,
        value_parser = parse_smoothing)]
    pub smoothing_octaves: f64,
}

fn parse_in_range(s: &str, lo: f64, hi: f64, what: &str) -> Result<f64, String> {
    let v = if let Some((a, b)) = s.split_once('/') {
        a.trim()
            .parse::<f64>()
            .ok()
            .zip(b.trim().parse::<f64>().ok())
            .map(|(a, b)| a / b)
    } else {
        s.trim().parse::<f64>().ok()
    };
    match v {
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("must be {what} in {lo}..={hi}")),
    }
}

fn parse_weight(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.0, 1000.0, "a weight").and_then(|w| {
        if w > 0.0 {
            Ok(w)
        } else {
            Err("must be a weight above 0".into())
        }
    })
}

fn parse_max_gain(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.5, 24.0, "a gain in dB")
}

fn parse_bands_per_octave(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.5, 6.0, "a number of bands per octave")
}

fn parse_q(s: &str) -> Result<f64, String> {
    parse_in_range(s, 0.3, 10.0, "a Q")
}

fn parse_smoothing(s: &str) -> Result<f64, String> {
    parse_in_range(s, 1.0 / 24.0, 1.0, "a width in octaves (e.g. 1/3)")
}

fn parse_strength(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err("must be a percentage in 0..=100".to_string()),
    }
}

/// What `lathe plot` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotKind {
    /// Momentary and short-term loudness of a file over time.
    Loudness,
    /// Long-term 1/3-octave spectrum of a file (and of --reference).
    Spectrum,
    /// Magnitude and phase response of a graph's eq and crossover nodes.
    Response,
    /// The graph itself: PNG or SVG (through Graphviz `dot` where installed, else drawn
    /// by lathe), or DOT text.
    Graph,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// What to draw.
    #[arg(value_enum)]
    pub kind: PlotKind,
    /// An audio file (loudness, spectrum) or a graph file (response, graph).
    pub input: PathBuf,
    /// The image to write: .png or .svg (graph: .png, .svg or .dot).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Spectrum: a reference file drawn with the input, matched in loudness.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
    /// Loudness: a target line, in LUFS.
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true, value_parser = parse_target)]
    pub target_lufs: Option<f64>,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u32).range(200..=8000))]
    pub width: u32,
    /// Image height in pixels [default: 600, or 200 per panel when a plot has more than
    /// three panels (a response plot has one per node), up to 8000].
    #[arg(long, value_parser = clap::value_parser!(u32).range(150..=8000))]
    pub height: Option<u32>,
    /// Response: the sample rate the graph is prepared for.
    #[arg(long, value_name = "HZ", default_value_t = 48_000)]
    pub rate: u32,
    /// Response: draw this node alone (repeatable); default: every eq, dynamic_eq and
    /// crossover node (each crossover band) and the whole graph.
    #[arg(long = "node", value_name = "ID")]
    pub nodes: Vec<String>,
    /// Response: also draw the whole graph when --node is given.
    #[arg(long)]
    pub whole: bool,
    /// Response: also write the curves as CSV (freq_hz, then gain_db and phase_deg per
    /// curve).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
}

const RENDER_EXAMPLES: &str = "\
Examples:
  lathe render graphs/master.ron --demo -o demo-master.wav --preset streaming
  lathe render graphs/master.ron song.flac -o song-master.wav --target-lufs -14 --bits 16
  lathe render graphs/master.ron song.wav -o out.wav --set limit.ceiling_dbtp=-1.5 --set eq.band2.gain_db=0.5
  lathe render graphs/stems.ron music=music.wav vocals=vocals.wav -o mix.wav --report report.json

Inputs are decoded from WAV, FLAC, OGG Vorbis, MP3 or AAC/M4A (lossy ones without their
encoder delay and padding, so they line up with the audio that was encoded). The output is a WAV file (.wav), or
FLAC (16 or 24-bit) where its name ends in .flac, with the sample rate of the inputs and
the same length; the graph's latency is compensated. Other extensions are refused.
Without --target-lufs or --preset the graph's own gain decides the loudness.
The output is written atomically and never over an input file or the graph file.";

const CHECK_EXAMPLES: &str = "\
Examples:
  lathe check graphs/master.ron
  lathe check graphs/master.ron --set limit.ceiling_dbtp=-2";

const DOT_EXAMPLES: &str = "\
Examples:
  lathe dot graphs/master.ron > chain.dot
  lathe dot graphs/master.ron | dot -Tsvg > chain.svg";

const NODES_EXAMPLES: &str = "\
Examples:
  lathe nodes
  lathe nodes gain
  lathe nodes --json > kinds.json
  lathe nodes lv2 --uri http://gareus.org/oss/lv2/dpl#stereo";

const RUN_EXAMPLES: &str = "\
Examples:
  lathe run graphs/master.ron --connect
  lathe run graphs/master.ron --in main=system:capture_1,system:capture_2 --out main=system:playback_1,system:playback_2
  lathe run graphs/master.ron --osc 127.0.0.1:9000 --set limit.ceiling_dbtp=-1.5
  lathe run graphs/master.ron --connect --ui        (web console on http://127.0.0.1:8420/)
  lathe run graphs/master.ron --connect --reference ref.flac   (`monitor ref` to hear it)

Type `help` on stdin for live commands (set, get, bypass, meters, monitor, save, quit).
Needs a running JACK server (jackd, or pw-jack under PipeWire). See docs/live.md.";

const ANALYZE_EXAMPLES: &str = "\
Examples:
  lathe analyze song.wav
  lathe analyze before.wav after.wav --json";

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The graph file (.ron).
    pub graph: PathBuf,

    /// Input audio files: one per graph input bus (BUS=PATH when there are several).
    ///
    /// With one input bus, give just the path. With several (stems), give BUS=PATH for
    /// each, e.g. drums=drums.wav music=music.wav. Write ./NAME for a file whose name
    /// contains '='. Shorter inputs are padded with silence to the longest.
    #[arg(value_name = "INPUT", value_parser = parse_input, required_unless_present = "demo")]
    pub inputs: Vec<InputArg>,

    /// Output WAV, FLAC, Opus or MP3 file, by extension (BUS=PATH per output bus when
    /// there are several).
    ///
    /// Written atomically (a failed render leaves no partial file) and never over an
    /// input file or the graph file. Repeat -o for several output buses.
    #[arg(short = 'o', long = "output", value_name = "OUTPUT", required = true,
        value_parser = parse_input)]
    pub outputs: Vec<InputArg>,

    #[command(flatten)]
    pub sets: SetArgs,

    /// Frames per processing block, 1..=65536.
    ///
    /// Renders are bit-identical whatever the block size; it only trades speed for
    /// memory.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BLOCK_FRAMES,
        value_parser = parse_block_frames)]
    pub block_frames: usize,

    /// Output sample format: 16, 24 or 32f (default 24, or the preset's).
    ///
    /// 16 and 24 are integer PCM with TPDF dither (seeded: the same render gives the same
    /// bytes) and clamped to full scale; 32f is IEEE float and keeps overs.
    #[arg(long, value_name = "BITS", value_parser = parse_bits)]
    pub bits: Option<SampleFormat>,

    /// Codec setting of the .opus, .mp3 and .m4a outputs: CODEC:KBPS[:MODE], e.g.
    /// opus:128, mp3:256:vbr or aac:192 (default opus:160, mp3:320, aac:256).
    ///
    /// The codec must be the one the output's extension names. Lossy outputs are encoded
    /// from the float samples (no --bits) and tagged with their loudness: R128_TRACK_GAIN
    /// in Opus, ReplayGain 2.0 in MP3 and M4A.
    #[arg(long, value_name = "CODEC:KBPS", value_parser = parse_codec)]
    pub codec: Option<lathe_codecs::CodecSpec>,

    /// Master to this integrated loudness, in LUFS (overrides the preset's).
    ///
    /// The gain into the graph that lands the output there is found by the same
    /// render-measure-correct passes as `album --mode track`; then the true peak is kept
    /// under the ceiling (-1 dBTP, or the preset's) by a safety gain after the graph if
    /// its limiter lets a peak through.
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true, value_parser = parse_target)]
    pub target_lufs: Option<f64>,

    /// Delivery preset for the loudness target, ceiling and bit depth: streaming,
    /// broadcast, podcast, cd, or a .ron file (`lathe album --list-presets`).
    ///
    /// render keeps the input's sample rate and always uses TPDF dither; `lathe album`
    /// also applies the preset's rate and noise shaping.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,

    /// Use the built-in synthetic demo mix (30 s, stereo, 48 kHz) as the input.
    #[arg(long, conflicts_with = "inputs")]
    pub demo: bool,

    /// Print nothing but errors: no progress bar, no report.
    #[arg(short, long)]
    pub quiet: bool,

    /// Fail (exit 2, no output written) when a script of the graph stops with an error;
    /// without it the render completes and its summary says which script stopped when.
    #[arg(long)]
    pub strict: bool,

    /// Also write the before/after measurements as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also draw the loudness over time of the (first) output to this PNG or SVG file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Set a param: NODE.PARAM=VALUE, e.g. limit.ceiling_dbtp=-1 (repeatable).
    ///
    /// VALUE is a number, true/false (on/off), or the name of a choice. Params inside a
    /// subgraph are reached through its node: mb.comp_low.threshold_db=-20.
    /// `lathe check GRAPH` lists every param with its value.
    #[arg(long = "set", value_name = "NODE.PARAM=VALUE", value_parser = parse_set)]
    pub sets: Vec<ParamSet>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The graph file (.ron).
    pub graph: PathBuf,
    #[command(flatten)]
    pub sets: SetArgs,
}

#[derive(Debug, Args)]
pub struct DotArgs {
    /// The graph file (.ron).
    pub graph: PathBuf,
}

#[derive(Debug, Args)]
pub struct NodesArgs {
    /// A node kind to describe in full; all kinds are listed when left out.
    pub kind: Option<String>,
    /// With `lv2`: describe the LV2 plugin with this URI as a node.
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Audio files to measure (WAV, FLAC, OGG Vorbis, MP3).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Preview each streaming platform's loudness normalisation of every file (the
    /// built-in table presets/platforms.ron, or `--platforms=FILE` for your own).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub platforms: Option<Option<PathBuf>>,
}

fn parse_bits(s: &str) -> Result<SampleFormat, String> {
    SampleFormat::ALL
        .into_iter()
        .find(|f| f.name() == s)
        .ok_or_else(|| "allowed values are 16, 24 and 32f".to_string())
}

fn parse_block_frames(s: &str) -> Result<usize, String> {
    let allowed = format!("must be a whole number in 1..={MAX_BLOCK_FRAMES}");
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_BLOCK_FRAMES).contains(&n) => Ok(n),
        _ => Err(allowed),
    }
}

/// An input or output file, for a named bus or for the graph's only bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputArg {
    pub bus: Option<String>,
    pub path: PathBuf,
}

fn parse_input(s: &str) -> Result<InputArg, String> {
    if s.is_empty() {
        return Err("a file path is needed".to_string());
    }
    if let Some((bus, path)) = s.split_once('=')
        && is_identifier(bus)
    {
        if path.is_empty() {
            return Err(format!("no file path after `{bus}=`; expected BUS=PATH"));
        }
        return Ok(InputArg {
            bus: Some(bus.to_string()),
            path: PathBuf::from(path),
        });
    }
    Ok(InputArg {
        bus: None,
        path: PathBuf::from(s),
    })
}

/// A param assignment from `--set NODE.PARAM=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSet {
    /// `node.param`, e.g. `eq.band2.gain_db`; through subgraphs `mb.comp_low.threshold_db`.
    pub path: String,
    /// Read by [`ParamValue::from_text`], the grammar every host shares; the compiler
    /// resolves it against the param (choice names included).
    pub value: ParamValue,
}

impl ParamSet {
    /// The set as a compiler override.
    pub fn as_override(&self) -> (String, ParamValue) {
        (self.path.clone(), self.value.clone())
    }
}

fn parse_set(s: &str) -> Result<ParamSet, String> {
    let Some((path, value)) = s.split_once('=') else {
        return Err("expected NODE.PARAM=VALUE, e.g. limit.ceiling_dbtp=-1".to_string());
    };
    let path = path.trim();
    let value = value.trim();
    let segments: Vec<&str> = path.split('.').collect();
    if segments.len() < 2 {
        return Err(format!(
            "`{path}` names no param; expected NODE.PARAM=VALUE, e.g. limit.ceiling_dbtp=-1"
        ));
    }
    if let Some(bad) = segments.iter().find(|seg| !is_name_segment(seg)) {
        return Err(format!(
            "`{bad}` in `{path}` is not a valid node or param name \
             (lowercase letters, digits and `_`)"
        ));
    }
    if value.is_empty() {
        return Err(format!(
            "no value after `{path}=`; expected a number, true/false or a choice name"
        ));
    }
    Ok(ParamSet {
        path: path.to_string(),
        value: ParamValue::from_text(value).map_err(|e| e.to_string())?,
    })
}

/// A node id or bus name: lowercase letters, digits and `_`, starting with a letter.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// One dot-separated part of a param path (`band2` in `eq.band2.gain_db`).
fn is_name_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn set_parses_numbers_bools_and_choices() {
        let s = parse_set("eq.band2.gain_db=-1.5").unwrap();
        assert_eq!(s.path, "eq.band2.gain_db");
        assert_eq!(s.value, ParamValue::Number(-1.5));
        assert_eq!(
            parse_set("a.bypass=true").unwrap().value,
            ParamValue::Bool(true)
        );
        assert_eq!(
            parse_set("comp.detector=rms").unwrap().value,
            ParamValue::Text("rms".into())
        );
    }

    #[test]
    fn set_rejects_malformed_text() {
        assert!(
            parse_set("gain_db=1")
                .unwrap_err()
                .contains("names no param")
        );
        assert!(
            parse_set("a.b")
                .unwrap_err()
                .contains("expected NODE.PARAM=VALUE")
        );
        assert!(
            parse_set("a..b=1")
                .unwrap_err()
                .contains("not a valid node or param")
        );
        assert!(parse_set("a.b=").unwrap_err().contains("no value"));
        assert!(
            parse_set("a.b=nan")
                .unwrap_err()
                .contains("not a finite number")
        );
        assert!(parse_set("a.b=1x").unwrap_err().contains("not a number"));
    }

    #[test]
    fn inputs_split_bus_names_only_from_identifiers() {
        assert_eq!(
            parse_input("drums=a.wav").unwrap(),
            InputArg {
                bus: Some("drums".into()),
                path: "a.wav".into()
            }
        );
        assert_eq!(parse_input("./x=y.wav").unwrap().bus, None);
        assert_eq!(parse_input("song.wav").unwrap().bus, None);
    }

    #[test]
    fn block_frames_and_bits_ranges() {
        assert_eq!(parse_block_frames("1"), Ok(1));
        assert_eq!(parse_block_frames("65536"), Ok(65536));
        assert!(parse_block_frames("0").is_err());
        assert!(parse_block_frames("65537").is_err());
        assert_eq!(parse_bits("32f"), Ok(SampleFormat::Float32));
        assert!(parse_bits("32").is_err());
    }
}

/// Codecs checked when `--codec` is not given: what lathe can encode.
pub const DEFAULT_CODECS: &str = "opus:128,mp3:320";
/// Ceiling when `--ceiling-dbtp` is not given: the usual streaming delivery ceiling.
pub const DEFAULT_CEILING_DBTP: f64 = -1.0;

const CODEC_CHECK_EXAMPLES: &str = "\
Examples:
  lathe codec-check master.wav
  lathe codec-check 01.wav 02.wav --codec opus:128,mp3:320 --ceiling-dbtp -1
  lathe codec-check master.wav --codec mp3:256:vbr --json
  lathe codec-check master.wav --codec opus:128,aac:256
  lathe codec-check master.wav --plot peaks.png

Codec specs are CODEC:KBPS[:MODE]: opus (6..=510 kbps, vbr default), mp3 (the MPEG-1
bitrates 32..320, cbr default; vbr is LAME's ABR), aac (AAC-LC, 8..=320 kbps, cbr default;
vbr is the FDK VBR mode nearest the rate; needs libfdk-aac, which
scripts/build-fdk-aac.sh builds and installs).

Exit status: 0 when every decode's true peak is at or under the ceiling, 1 when at least
one overshoots it, 2 for bad arguments or unreadable files. See docs/delivery.md.";

/// `lathe codec-check FILE...`: how a master survives lossy encoding.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = CODEC_CHECK_EXAMPLES)]
pub struct CodecCheckArgs {
    /// Audio files to check (WAV, FLAC, OGG Vorbis, MP3).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Codecs to check, comma-separated CODEC:KBPS[:MODE].
    #[arg(long = "codec", value_name = "CODEC:KBPS,...", default_value = DEFAULT_CODECS,
        value_parser = parse_codecs)]
    pub codecs: CodecList,
    /// The delivery ceiling every decode's true peak must stay at or under.
    #[arg(long, value_name = "DBTP", default_value_t = DEFAULT_CEILING_DBTP,
        allow_hyphen_values = true, value_parser = parse_ceiling)]
    pub ceiling_dbtp: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Draw each file's decoded true peak over time, one curve per codec, with the
    /// ceiling, to a PNG or SVG file.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// The parsed `--codec` list.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecList(pub Vec<lathe_codecs::CodecSpec>);

fn parse_codecs(text: &str) -> Result<CodecList, String> {
    lathe_codecs::parse_list(text)
        .map(CodecList)
        .map_err(|e| e.to_string())
}

fn parse_codec(text: &str) -> Result<lathe_codecs::CodecSpec, String> {
    text.parse()
        .map_err(|e: lathe_codecs::SpecError| e.to_string())
}

fn parse_ceiling(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| (-20.0..=0.0).contains(v))
        .ok_or_else(|| format!("`{text}` is not a ceiling; allowed: -20.0 ..= 0.0 dBTP"))
}
