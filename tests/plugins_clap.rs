//! `clap` nodes through the real binary, with the test CLAP plugin built from source
//! (`plugins/test-plugin`): a param from `--set` reaches the plugin (output bit-exact to
//! the gain), a dry path in parallel with the plugin's 64-frame latency nulls, renders
//! are deterministic, `check` shows the plugin's latency, and bad cases (missing file,
//! unknown id, unknown param, ports that don't fit the link, a plugin that outputs NaN,
//! a corrupt or foreign plugin state) are clear messages naming the node.

mod common;
#[path = "../plugins/tests/support/test_plugin.rs"]
mod test_plugin;

use std::path::Path;

use common::{assert_fails, lathe_in, lathe_ok, stderr, write_wav_f32};
use lathe::audio_io::read_audio;
use test_plugin::{FADE_ID, GAIN_ID, LATENCY_ID, MONO_ID, test_plugin};

const RATE_HZ: u32 = 48_000;
const FRAMES: usize = 24_000;

/// Deterministic noise at about -6 dBFS on two channels.
fn noise() -> Vec<Vec<f32>> {
    let mut state = 0x1234_5678u32;
    (0..2)
        .map(|_| {
            (0..FRAMES)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (state as f32 / u32::MAX as f32 - 0.5) * 1.0
                })
                .collect()
        })
        .collect()
}

/// A graph of one plugin node `g` between `in` and `out`.
fn chain_graph(id: &str, path: &Path) -> String {
    format!(
        "(nodes: [(id: \"g\", kind: \"clap\", config: (path: {path:?}, id: {id:?}))],\n\
         links: [\"in -> g -> out\"])\n"
    )
}

/// The plugin (with latency) in parallel with an inverted dry path, summed.
fn null_graph(gain_db: f32) -> String {
    format!(
        "(nodes: [\n\
           (id: \"wet\", kind: \"clap\", config: (path: {:?}, id: {LATENCY_ID:?}),\n\
            params: {{\"gain_db\": {gain_db:?}}}),\n\
           (id: \"flip\", kind: \"polarity\", params: {{\"invert_left\": 1, \"invert_right\": 1}}),\n\
           (id: \"sum\", kind: \"mix\"),\n\
         ],\n\
         links: [\"in -> wet -> sum.in1\", \"in -> flip -> sum.in2\", \"sum -> out\"])\n",
        test_plugin()
    )
}

fn setup(graph: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("g.ron"), graph).expect("write graph");
    write_wav_f32(&dir.path().join("in.wav"), RATE_HZ, &noise());
    dir
}

fn render(dir: &Path, out: &str, extra: &[&str]) -> Vec<Vec<f32>> {
    let mut args = vec![
        "render", "g.ron", "in.wav", "-o", out, "--bits", "32f", "-q",
    ];
    args.extend_from_slice(extra);
    lathe_ok(dir, &args);
    read_audio(&dir.join(out))
        .expect("read the render")
        .channels
}

#[test]
fn a_param_from_set_reaches_the_plugin_and_the_output_is_bit_exact() {
    let dir = setup(&chain_graph(GAIN_ID, test_plugin()));
    let out = render(dir.path(), "out.wav", &["--set", "g.gain_db=-6"]);
    let gain = 10f64.powf(-6.0 / 20.0) as f32;
    let input = noise();
    assert_eq!(out[0].len(), FRAMES);
    for (ch, (o, i)) in out.iter().zip(&input).enumerate() {
        for (frame, (y, x)) in o.iter().zip(i).enumerate() {
            assert_eq!(
                y.to_bits(),
                (x * gain).to_bits(),
                "channel {ch} frame {frame}"
            );
        }
    }
}

#[test]
fn a_dry_path_beside_the_plugins_latency_nulls() {
    let dir = setup(&null_graph(0.0));
    let out = render(dir.path(), "null.wav", &[]);
    let input_peak = noise()[0].iter().fold(0f32, |m, x| m.max(x.abs()));
    let residual = out.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
    let residual_db = 20.0 * (f64::from(residual) / f64::from(input_peak)).log10();
    eprintln!("dry/wet null through a 64-frame plugin: residual {residual_db:.1} dB");
    assert!(residual_db < -100.0, "residual {residual_db} dB");
}

#[test]
fn renders_through_a_plugin_are_the_same_bytes_twice() {
    let dir = setup(&null_graph(-3.0));
    render(dir.path(), "a.wav", &["--set", "wet.polarity=inverted"]);
    render(dir.path(), "b.wav", &["--set", "wet.polarity=inverted"]);
    let a = std::fs::read(dir.path().join("a.wav")).expect("a");
    let b = std::fs::read(dir.path().join("b.wav")).expect("b");
    assert!(a == b, "two renders differ");
    let out = read_audio(&dir.path().join("a.wav"))
        .expect("read")
        .channels;
    assert!(
        out[0].iter().any(|x| *x != 0.0),
        "the plugin's path is heard"
    );
}

#[test]
fn a_missing_plugin_file_names_the_node_and_the_path() {
    let dir = setup(&chain_graph(GAIN_ID, Path::new("/nowhere/gain.clap")));
    for command in ["check", "render"] {
        let out = lathe_in(
            dir.path(),
            &[command, "g.ron", "in.wav", "-o", "x.wav"][..if command == "check" { 2 } else { 5 }],
        );
        assert_fails(
            &out,
            2,
            &[
                "g.ron:1:",
                "node `g` (clap)",
                "no CLAP file at `/nowhere/gain.clap`",
            ],
        );
    }
    assert!(!dir.path().join("x.wav").exists());
}

#[test]
fn an_unknown_plugin_id_lists_the_ones_the_file_has() {
    let dir = setup(&chain_graph("org.lathe.test.gian", test_plugin()));
    let out = lathe_in(dir.path(), &["check", "g.ron"]);
    assert_fails(
        &out,
        2,
        &[
            "node `g` (clap)",
            "has no plugin `org.lathe.test.gian`",
            "did you mean `org.lathe.test.gain`?",
            LATENCY_ID,
        ],
    );
}

#[test]
fn a_mono_plugin_on_a_stereo_link_is_refused() {
    let dir = setup(&chain_graph(MONO_ID, test_plugin()));
    let out = lathe_in(dir.path(), &["check", "g.ron"]);
    assert_fails(
        &out,
        2,
        &[
            "g.ron:2:",
            "channel mismatch: `in.main` carries 2 channels but `g.in` takes 1",
        ],
    );
}

#[test]
fn nan_from_a_plugin_is_silenced_and_reported_for_its_node() {
    let dir = setup(&chain_graph(GAIN_ID, test_plugin()));
    let out = lathe_in(
        dir.path(),
        &[
            "render",
            "g.ron",
            "in.wav",
            "-o",
            "nan.wav",
            "--bits",
            "32f",
            "--set",
            "g.emit_nan=1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("node `g` produced") && err.contains("non-finite samples"),
        "{err}"
    );
    let audio = read_audio(&dir.path().join("nan.wav")).expect("read");
    assert!(audio.channels.iter().flatten().all(|x| *x == 0.0));
}

#[test]
fn check_shows_the_plugins_latency_and_names_its_params() {
    let dir = setup(&chain_graph(LATENCY_ID, test_plugin()));
    let out = lathe_ok(dir.path(), &["check", "g.ron"]);
    let text = common::stdout(&out);
    assert!(text.contains("64"), "the plugin's 64 frames:\n{text}");
    let misspelt = chain_graph(LATENCY_ID, test_plugin())
        .replace("config: (path:", "params: {\"gain\": -3.0}, config: (path:");
    std::fs::write(dir.path().join("g.ron"), misspelt).expect("write graph");
    let out = lathe_in(dir.path(), &["check", "g.ron"]);
    assert_fails(
        &out,
        2,
        &[
            "g.ron:1:",
            "node `g` has no param `gain`",
            "its params: `gain_db`, `polarity`, `emit_nan`",
        ],
    );
}

/// `lathe plugins` lists CLAP plugins found on `CLAP_PATH` beside the LV2 ones, with their
/// id, latency and params; a filter keeps those whose id or name matches.
#[test]
fn the_plugins_command_lists_clap_plugins_on_the_clap_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = test_plugin().parent().expect("plugin folder");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(["plugins", "--json", "org.lathe.test"])
        .current_dir(dir.path())
        .env("CLAP_PATH", folder)
        .env("LATHE_LILV_LIBRARY", "/nonexistent/liblilv.so")
        .output()
        .expect("lathe runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = common::stdout(&out);
    for id in [GAIN_ID, LATENCY_ID, MONO_ID, FADE_ID] {
        assert!(text.contains(id), "{id} listed:\n{text}");
    }
    assert!(text.contains("gain_db"), "params listed:\n{text}");
}

#[test]
fn a_corrupt_or_foreign_state_fails_check_and_render_naming_the_node() {
    let plugin = test_plugin();
    // Not base64 at all; base64 of bytes that are not this plugin's state.
    for (state, needle) in [
        (
            "\"LTFADE01!!\"",
            "`state` is not base64 text: `!` at character 8",
        ),
        (
            "\"c29tZSBvdGhlciBwbHVnaW4=\"",
            "refused this state (a corrupt blob, or the state of another plugin or version)",
        ),
    ] {
        let graph = format!(
            "(nodes: [(id: \"g\", kind: \"clap\",\n  config: (path: {plugin:?}, id: {FADE_ID:?}, state: {state}))],\n\
             links: [\"in -> g -> out\"])\n"
        );
        let dir = setup(&graph);
        for args in [
            &["check", "g.ron"][..],
            &["render", "g.ron", "in.wav", "-o", "x.wav"][..],
        ] {
            let out = lathe_in(dir.path(), args);
            assert_fails(
                &out,
                2,
                &[
                    "g.ron:2:11:",
                    "bad config for node `g` (clap)",
                    "config field `state`",
                    needle,
                ],
            );
        }
        assert!(!dir.path().join("x.wav").exists());
    }
}

/// A plugin that crashes (a write through a null pointer inside its `process`) ends the
/// render with the signal, and lathe says which node's plugin it was, so the user knows
/// what to take out of the graph.
#[test]
fn a_crashing_plugin_is_named_before_the_process_ends() {
    let dir = setup(&chain_graph(test_plugin::CRASH_ID, test_plugin()));
    let out = lathe_in(dir.path(), &["render", "g.ron", "in.wav", "-o", "out.wav"]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{err}");
    }
    assert!(
        err.contains("the plugin of node `g` (org.lathe.test.crash) crashed the process"),
        "{err}"
    );
    assert!(!dir.path().join("out.wav").exists(), "no output");
}
