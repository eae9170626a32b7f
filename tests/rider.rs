//! The shipped rider (graphs/rider.ron + rider.rhai) on real renders: it lands on the loudness
//! target it is given, and the limiter after it still holds the ceiling.

use std::path::PathBuf;
use std::process::Command;

use lathe::audio_io::read_audio;
use lathe_nodes::dsp::analysis::analyze;
use lathe_nodes::dsp::bs1770::Layout;

const LATHE: &str = env!("CARGO_BIN_EXE_lathe");

fn render_rider(target_lufs: f64) -> lathe_nodes::dsp::analysis::FileAnalysis {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!(
        "lathe-rider-{}-{target_lufs}.wav",
        std::process::id()
    ));
    let status = Command::new(LATHE)
        .args([
            "render",
            "graphs/rider.ron",
            "--demo",
            "-q",
            "--bits",
            "32f",
            "-o",
        ])
        .arg(&out)
        .arg("--set")
        .arg(format!("rider.target_lufs={target_lufs}"))
        .current_dir(&repo)
        .status()
        .expect("lathe runs");
    assert!(status.success());
    let audio = read_audio(&out).expect("output decodes");
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyze(&planes, f64::from(audio.sample_rate_hz), Layout::Stereo)
}

#[test]
fn rider_lands_within_one_lu_of_its_target_under_the_ceiling() {
    // The demo is an unmastered mix at about -20.8 LUFS; the chain's limiter sits at -1 dBTP.
    for target in [-12.0, -16.0] {
        let a = render_rider(target);
        let integrated = a.integrated_lufs.expect("not silent");
        assert!(
            (integrated - target).abs() <= 1.0,
            "target {target}: integrated {integrated:.2} LUFS"
        );
        let true_peak = a.true_peak_dbtp.expect("not silent");
        assert!(
            true_peak <= -0.9,
            "target {target}: true peak {true_peak:.2} dBTP over the -1 dBTP ceiling"
        );
    }
}
