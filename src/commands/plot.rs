//! `lathe plot`: loudness over time, spectra, a graph's frequency response, or the graph.
//!
//! The response is measured, not computed: a unit impulse scaled to
//! [`IMPULSE_LEVEL`] goes through the compiled graph (latency compensated, as in a
//! render) and the FFT of the first output channel, divided by the impulse level, gives
//! magnitude and phase. The small level keeps dynamics processors idle, so the curve is
//! that of the graph's linear filters (EQ, crossovers, gains).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::anyhow;
use lathe_nodes::analysis::Analyzer;
use lathe_nodes::bs1770::Layout;
use realfft::RealFftPlanner;

use super::compare::compare;
use super::engine;
use crate::atomic::write_atomically;
use crate::audio_io::{Audio, read_audio};
use crate::cli::{PlotArgs, PlotKind};
use crate::exit::{CliError, ResultExt};
use crate::plot::{COLORS, Panel, Series, draw};
use crate::progress::Progress;

/// Frames of the impulse response: 0.34 s at 48 kHz, 2.9 Hz resolution.
pub const IMPULSE_FRAMES: usize = 16_384;
/// Amplitude of the test impulse (-40 dBFS).
pub const IMPULSE_LEVEL: f32 = 0.01;

pub fn run(args: &PlotArgs) -> Result<(), CliError> {
    if args.output == args.input || args.reference.as_ref() == Some(&args.output) {
        return Err(CliError::user(anyhow!(
            "refusing to write the plot over its input `{}`",
            args.output.display()
        )));
    }
    let size = (args.width, args.height);
    let panels = match args.kind {
        PlotKind::Loudness => vec![loudness_panel(
            &read_audio(&args.input).user_fault()?,
            args.target_lufs,
        )],
        PlotKind::Spectrum => spectrum_panels(args)?,
        PlotKind::Response => response_panels(&args.input, args.rate)?,
        PlotKind::Graph => return graph(&args.input, &args.output),
    };
    draw(&args.output, size.0, size.1, &panels).map_err(|e| CliError::user(anyhow!(e)))
}

/// Momentary and short-term loudness of `audio` over time, with an optional target line.
pub fn loudness_panel(audio: &Audio, target: Option<f64>) -> Panel {
    let mut analyzer = Analyzer::new(
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    );
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyzer.process(&planes);
    let series = analyzer.series();
    let points = |values: &[f64]| -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i + 1) as f64 * series.hop_s, v))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    Panel {
        title: "Loudness over time".into(),
        x_label: "time (s)".into(),
        y_label: "loudness (LUFS)".into(),
        log_x: false,
        series: vec![
            Series {
                name: "momentary (400 ms)".into(),
                points: points(&series.momentary_lufs),
                color: COLORS[0],
            },
            Series {
                name: "short-term (3 s)".into(),
                points: points(&series.short_term_lufs),
                color: COLORS[1],
            },
        ],
        target: target.map(|t| (t, format!("target {t} LUFS"))),
    }
}

fn spectrum_panels(args: &PlotArgs) -> Result<Vec<Panel>, CliError> {
    let audio = read_audio(&args.input).user_fault()?;
    let reference = match &args.reference {
        Some(p) => read_audio(p).user_fault()?,
        None => audio.clone(),
    };
    if reference.sample_rate_hz != audio.sample_rate_hz {
        return Err(CliError::user(anyhow!(
            "the reference is {} Hz but the input is {} Hz; plot files of one rate",
            reference.sample_rate_hz,
            audio.sample_rate_hz
        )));
    }
    let c = compare(&audio, &reference);
    let gain = c.match_gain_db;
    let mut series = vec![Series {
        name: args.input.display().to_string(),
        points: c
            .bands
            .iter()
            .filter_map(|b| Some((b.freq_hz, b.mix_db? + gain)))
            .collect(),
        color: COLORS[0],
    }];
    if let Some(p) = &args.reference {
        series.push(Series {
            name: format!("{} (reference)", p.display()),
            points: c
                .bands
                .iter()
                .filter_map(|b| Some((b.freq_hz, b.reference_db?)))
                .collect(),
            color: COLORS[1],
        });
    }
    Ok(vec![Panel {
        title: "Long-term 1/3-octave spectrum".into(),
        x_label: "frequency (Hz)".into(),
        y_label: "level (dB)".into(),
        log_x: true,
        series,
        target: None,
    }])
}

/// Magnitude (dB) and phase (degrees) of the graph at `rate`, from its impulse response.
pub fn response(graph_path: &Path, rate: u32) -> Result<Vec<(f64, f64, f64)>, CliError> {
    let graph = engine::load(graph_path, &[], f64::from(rate), 512)?;
    let inputs: Vec<Audio> = graph
        .inputs
        .iter()
        .enumerate()
        .map(|(bus, b)| {
            let mut a = Audio::silence(rate, b.channels, IMPULSE_FRAMES);
            if bus == 0 {
                a.channels.iter_mut().for_each(|c| c[0] = IMPULSE_LEVEL);
            }
            a
        })
        .collect();
    let rendered = engine::render(graph, inputs, &Progress::hidden());
    let out = rendered
        .outputs
        .first()
        .and_then(|a| a.channels.first())
        .ok_or_else(|| CliError::user(anyhow!("the graph has no output channel")))?;
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(IMPULSE_FRAMES);
    let mut input: Vec<f64> = out.iter().map(|&s| f64::from(s / IMPULSE_LEVEL)).collect();
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum)
        .map_err(|e| CliError::runtime(anyhow!("FFT failed: {e}")))?;
    let bin_hz = f64::from(rate) / IMPULSE_FRAMES as f64;
    Ok(spectrum
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| {
            (
                i as f64 * bin_hz,
                20.0 * c.norm().max(1e-12).log10(),
                c.arg().to_degrees(),
            )
        })
        .filter(|p| p.0 >= 10.0)
        .collect())
}

fn response_panels(graph: &Path, rate: u32) -> Result<Vec<Panel>, CliError> {
    let points = response(graph, rate)?;
    let panel = |title: &str, y: &str, pick: fn(&(f64, f64, f64)) -> f64, color| Panel {
        title: title.into(),
        x_label: "frequency (Hz)".into(),
        y_label: y.into(),
        log_x: true,
        series: vec![Series {
            name: title.into(),
            points: points.iter().map(|p| (p.0, pick(p))).collect(),
            color,
        }],
        target: None,
    };
    Ok(vec![
        panel("Magnitude response", "gain (dB)", |p| p.1, COLORS[0]),
        panel("Phase response", "phase (degrees)", |p| p.2, COLORS[1]),
    ])
}

/// The graph as SVG through Graphviz `dot` where it is installed; otherwise the DOT text
/// is written beside the requested file (with `.dot`) and a notice says so.
fn graph(path: &Path, output: &Path) -> Result<(), CliError> {
    let loaded = engine::load(
        path,
        &[],
        engine::DESCRIBE_SAMPLE_RATE_HZ,
        engine::DESCRIBE_BLOCK_FRAMES,
    )?;
    let text = engine::dot(&loaded);
    let wants_svg = output.extension().is_some_and(|e| e == "svg");
    let svg = if wants_svg { run_dot(&text) } else { None };
    let (target, bytes): (PathBuf, Vec<u8>) = match svg {
        Some(svg) => (output.to_path_buf(), svg),
        None => {
            let dot_path = output.with_extension("dot");
            if wants_svg {
                eprintln!(
                    "notice: Graphviz `dot` is not installed; wrote the DOT text to `{}`",
                    dot_path.display()
                );
            }
            (dot_path, text.into_bytes())
        }
    };
    write_atomically(&target, |w| std::io::Write::write_all(w, &bytes))
        .map_err(|e| anyhow!("cannot write `{}`: {e}", target.display()))
        .runtime_fault()
}

fn run_dot(text: &str) -> Option<Vec<u8>> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::io::Write::write_all(&mut child.stdin.take()?, text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}
