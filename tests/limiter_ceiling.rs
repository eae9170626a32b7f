//! The mastering chain's limiter holds its -1 dBTP ceiling on the demo mix pushed into it:
//! the real binary renders `graphs/master.ron --demo` with the trim raised 10 and 20 dB,
//! and the written file is measured with lathe's BS.1770 analyser (true peak at most
//! 0.1 dB over the ceiling, sample peak never over it). The demo's white-noise hats and
//! snare put energy right up to Nyquist, which a true-peak detector reads low unless it
//! accounts for it.

use std::path::Path;
use std::process::Command;

use lathe::audio_io::read_audio;
use lathe_nodes::dsp::analysis::analyze;
use lathe_nodes::dsp::bs1770::Layout;

fn render_demo_pushed(dir: &Path, trim_db: f64) -> (f64, f64) {
    let out_path = dir.join(format!("master_{trim_db}.wav"));
    let graph = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs/master.ron");
    let trim = format!("trim.gain_db={trim_db}");
    let status = Command::new(env!("CARGO_BIN_EXE_lathe"))
        .arg("render")
        .arg(&graph)
        .arg("--demo")
        .arg("-o")
        .arg(&out_path)
        .args(["--set", &trim, "--bits", "32f", "-q"])
        .status()
        .expect("run lathe");
    assert!(status.success(), "lathe render failed: {status}");
    let audio = read_audio(&out_path).expect("read the render");
    let channels: Vec<&[f32]> = audio.channels.iter().map(|c| c.as_slice()).collect();
    let a = analyze(&channels, audio.sample_rate_hz as f64, Layout::Stereo);
    (
        a.true_peak_dbtp.expect("true peak"),
        a.sample_peak_dbfs.expect("sample peak"),
    )
}

#[test]
fn demo_mix_pushed_into_the_limiter_stays_under_the_ceiling() {
    let dir = tempfile::tempdir().expect("temp dir");
    for trim_db in [10.0, 20.0] {
        let (true_peak, sample_peak) = render_demo_pushed(dir.path(), trim_db);
        eprintln!(
            "trim +{trim_db} dB: true peak {true_peak:.3} dBTP, sample peak {sample_peak:.3} dBFS"
        );
        assert!(
            true_peak <= -0.9,
            "trim +{trim_db} dB: true peak {true_peak} dBTP"
        );
        assert!(
            sample_peak <= -1.0,
            "trim +{trim_db} dB: sample peak {sample_peak} dBFS"
        );
    }
}
