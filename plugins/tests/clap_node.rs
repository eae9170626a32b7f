//! The `clap` node kind against a real CLAP plugin built from source
//! (`plugins/test-plugin`): params reach the plugin bit for bit, the declared latency is
//! the plugin's, the shared node checks hold (block-size invariance, reset, latency, no
//! allocation on the audio path), discovery describes the file, bad configs are
//! errors naming the field and the value, and a plugin's state saves into the node's
//! config and comes back from it.

#[path = "support/test_plugin.rs"]
mod test_plugin;

use lathe_engine::harness::{
    Case, HARNESS_MAX_BLOCK, HARNESS_RATE_HZ, LatencyCheck, build, check_block_size_invariance,
    check_latency, check_no_alloc, check_reset_determinism, meters_for, render, test_signal,
};
use lathe_engine::{BuildContext, ConfigError, NodeConfig, NodeKind, PrepareInfo, Unit};
use lathe_plugins::clap::{ClapInstance, ClapKind, ClapLibrary, discover_in};
use test_plugin::{
    CRASH_ID, FADE_FRAMES, FADE_ID, GAIN_ID, LATENCY_ID, MONO_ID, PLUGIN_LATENCY_FRAMES,
    test_plugin,
};

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn config(id: &str) -> String {
    format!("(path: {:?}, id: {id:?})", test_plugin())
}

/// The gain the test plugin applies for `gain_db`: computed in f64, rounded once.
fn plugin_gain(gain_db: f64) -> f32 {
    10f64.powf(gain_db / 20.0) as f32
}

#[test]
fn gain_param_reaches_the_plugin_and_the_audio_is_bit_exact() {
    let config = config(GAIN_ID);
    for gain_db in [-6.0f32, 0.0, 3.5] {
        let params = [("gain_db", gain_db)];
        let case = Case::new(&ClapKind).config(&config).params(&params);
        let mut built = build(&case, PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK));
        let input = test_signal(2, 5000);
        let meters = meters_for(&built.spec);
        let out = render(&mut built, &input, 300, &[], &meters);
        let g = plugin_gain(f64::from(gain_db));
        for (ch, (o, i)) in out.iter().zip(&input).enumerate() {
            for (frame, (y, x)) in o.iter().zip(i).enumerate() {
                assert_eq!(
                    y.to_bits(),
                    (x * g).to_bits(),
                    "gain {gain_db} dB, channel {ch} frame {frame}: {y} vs {}",
                    x * g
                );
            }
        }
        assert_eq!(meters[0].load(), 0.0, "no failed blocks");
    }
}

#[test]
fn params_keep_the_plugins_ranges_defaults_and_value_names() {
    let config = config(GAIN_ID);
    let built = build(
        &Case::new(&ClapKind).config(&config),
        PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK),
    );
    let names: Vec<&str> = built.spec.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gain_db", "polarity", "emit_nan"]);
    let gain = &built.spec.params[0];
    assert_eq!((gain.min, gain.max, gain.default), (-60.0, 24.0, 0.0));
    assert_eq!(gain.unit, Unit::Db);
    let polarity = &built.spec.params[1];
    assert_eq!(polarity.unit, Unit::Choice);
    assert_eq!(polarity.choices, ["normal", "inverted"]);
    assert_eq!(built.spec.params[2].unit, Unit::Toggle);
    let ports: Vec<(&str, usize)> = built
        .spec
        .inputs
        .iter()
        .chain(&built.spec.outputs)
        .map(|p| (p.name.as_str(), p.channels))
        .collect();
    assert_eq!(ports, [("in", 2), ("out", 2)]);
    assert_eq!(built.spec.latency_frames, 0);
}

#[test]
fn the_polarity_choice_inverts() {
    let config = config(GAIN_ID);
    let params = [("polarity", 1.0)];
    let case = Case::new(&ClapKind).config(&config).params(&params);
    let mut built = build(&case, PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK));
    let input = test_signal(2, 1000);
    let meters = meters_for(&built.spec);
    let out = render(&mut built, &input, 256, &[], &meters);
    assert!(out[0].iter().zip(&input[0]).all(|(y, x)| *y == -x));
}

#[test]
fn declared_latency_is_the_one_the_plugin_reports() {
    let prepare = PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK);
    let mut instance = ClapInstance::create(
        ClapLibrary::open(test_plugin()).expect("open the test plugin"),
        LATENCY_ID,
    )
    .expect("create");
    instance
        .activate(prepare.sample_rate_hz, prepare.max_block_frames as u32)
        .expect("activate");
    let reported = instance.latency_frames() as usize;
    assert_eq!(reported, PLUGIN_LATENCY_FRAMES);
    let config = config(LATENCY_ID);
    let case = Case::new(&ClapKind).config(&config);
    assert_eq!(build(&case, prepare).spec.latency_frames, reported);
    check_latency(&case);
}

#[test]
fn shared_node_checks_hold_and_process_never_allocates() {
    // Not `check_kind`: its check of finite output at the params' extremes sets
    // `emit_nan`, whose whole point is non-finite output.
    for id in [GAIN_ID, LATENCY_ID, MONO_ID] {
        let config = config(id);
        let case = Case::new(&ClapKind)
            .config(&config)
            .latency(LatencyCheck::ImpulsePeak);
        check_block_size_invariance(&case);
        check_reset_determinism(&case);
        check_latency(&case);
        check_no_alloc(&case);
    }
}

fn build_error(config: &str) -> ConfigError {
    let ctx = BuildContext {
        prepare: PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK),
        node_id: "g",
        base_dir: std::path::Path::new("."),
    };
    match ClapKind.build(&NodeConfig::from_ron(config), &ctx) {
        Ok(_) => panic!("`{config}` built"),
        Err(e) => e,
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let e = build_error("(path: \"/nowhere/x.clap\", id: \"a.b\")");
    assert_eq!(
        e,
        ConfigError::invalid("path", "no CLAP file at `/nowhere/x.clap`")
    );
}

#[test]
fn an_unknown_id_lists_the_files_plugins_and_the_closest() {
    let e = build_error(&format!(
        "(path: {:?}, id: \"org.lathe.test.gian\")",
        test_plugin()
    ));
    let text = e.to_string();
    assert!(text.starts_with("config field `id`: "), "{text}");
    for needle in [
        "has no plugin `org.lathe.test.gian`",
        "did you mean `org.lathe.test.gain`?",
        "it has: org.lathe.test.gain, org.lathe.test.latency, org.lathe.test.mono",
    ] {
        assert!(text.contains(needle), "{text} lacks {needle}");
    }
}

#[test]
fn a_file_that_is_not_a_plugin_and_a_config_without_fields_are_errors() {
    let dir = tempfile_dir();
    let fake = dir.join("fake.clap");
    std::fs::write(&fake, b"not a shared library").expect("write");
    let e = build_error(&format!("(path: {fake:?}, id: \"a\")")).to_string();
    assert!(e.contains("cannot load") && e.contains("fake.clap"), "{e}");
    let e = build_error("()").to_string();
    assert!(e.contains("`path`") && e.contains("required"), "{e}");
    let e = build_error("(path: \"x.clap\", id: \"a\", gain: 1)").to_string();
    assert!(e.contains("gain"), "{e}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lathe-clap-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn discovery_describes_every_plugin_of_the_file() {
    let dir = test_plugin().parent().expect("folder").to_path_buf();
    let found = discover_in(&[dir]);
    let ids: Vec<&str> = found.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [GAIN_ID, LATENCY_ID, MONO_ID, CRASH_ID, FADE_ID]);
    let latency = &found[1];
    assert_eq!(latency.latency_frames, Some(PLUGIN_LATENCY_FRAMES as u32));
    assert_eq!(latency.audio_inputs[0].channels, 2);
    assert_eq!(found[2].audio_outputs[0].channels, 1);
    let gain = &found[0].params[0];
    assert_eq!(
        (gain.symbol.as_str(), gain.min, gain.max),
        ("gain_db", -60.0, 24.0)
    );
    let polarity = &found[0].params[1];
    assert_eq!(
        polarity.choices,
        [(0.0, "normal".to_string()), (1.0, "inverted".to_string())]
    );
}

fn ctx() -> BuildContext<'static> {
    BuildContext {
        prepare: PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK),
        node_id: "fade",
        base_dir: std::path::Path::new("."),
    }
}

/// Builds the fade plugin from `config` and runs `frames` of a constant 0.5 through it;
/// returns the node's state task (if it has one) and the left channel.
fn run_fade(config: &str, frames: usize) -> (Option<Box<dyn lathe_engine::ControlTask>>, Vec<f32>) {
    let (mut built, task) = ClapKind
        .build_with_control(&NodeConfig::from_ron(config), &ctx())
        .unwrap_or_else(|e| panic!("`{config}` did not build: {e}"));
    let input = vec![vec![0.5f32; frames]; 2];
    let meters = meters_for(&built.spec);
    let out = render(&mut built, &input, 512, &[], &meters);
    (task, out[0].clone())
}

#[test]
fn a_plugins_state_saves_into_the_config_and_restores_at_build() {
    // A fresh fade plugin starts silent and reaches full gain after FADE_FRAMES.
    let (task, fresh) = run_fade(&config(FADE_ID), FADE_FRAMES + 1000);
    assert_eq!(fresh[0], 0.0);
    assert!(fresh[FADE_FRAMES / 2] > 0.2 && fresh[FADE_FRAMES / 2] < 0.3);
    assert_eq!(fresh[FADE_FRAMES + 10], 0.5);
    let task = task.expect("a plugin with the state extension has a state task");
    let saved = task
        .config_to_save()
        .expect("the task writes a config")
        .expect("the plugin saves its state");
    assert!(saved.contains("state: \""), "{saved}");
    assert!(saved.contains(FADE_ID), "{saved}");

    // Built from the saved config, it carries on at full gain from its first frame.
    let (_, restored) = run_fade(&saved, 1000);
    assert!(restored.iter().all(|&y| y == 0.5), "{:?}", &restored[..8]);

    // Without the state it starts afresh: the state, not the config, made the difference.
    let (_, again) = run_fade(&config(FADE_ID), 10);
    assert_eq!(again[0], 0.0);
}

#[test]
fn a_long_state_may_be_written_as_lines() {
    // The fade plugin's 16 bytes: "LTFADE01" and 10_000 as a little-endian u64.
    let mut blob = b"LTFADE01".to_vec();
    blob.extend_from_slice(&10_000u64.to_le_bytes());
    let coded = lathe_plugins::base64::encode(&blob);
    let (first, second) = coded.split_at(7);
    let config = format!(
        "(path: {:?}, id: {FADE_ID:?}, state: [\n  {first:?},\n  {second:?},\n])",
        test_plugin()
    );
    let (_, out) = run_fade(&config, 100);
    assert!(out.iter().all(|&y| y == 0.5));
}

#[test]
fn a_corrupt_or_foreign_state_is_an_error_on_the_state_field() {
    let plugin = test_plugin();
    let not_base64 = build_error(&format!(
        "(path: {plugin:?}, id: {FADE_ID:?}, state: \"LTFADE01!!\")"
    ));
    assert_eq!(
        not_base64,
        ConfigError::invalid(
            "state",
            "`state` is not base64 text: `!` at character 8 is not a base64 character (A-Z a-z 0-9 + / =)"
        )
    );
    // Valid base64 of bytes the plugin does not recognise (another plugin's state).
    let foreign = lathe_plugins::base64::encode(b"a state of some other plugin");
    let refused = build_error(&format!(
        "(path: {plugin:?}, id: {FADE_ID:?}, state: {foreign:?})"
    ));
    assert_eq!(
        refused,
        ConfigError::invalid(
            "state",
            format!(
                "plugin `{FADE_ID}` refused this state (a corrupt blob, or the state of another plugin or version); remove `state` or save it again"
            )
        )
    );
    // A plugin without the state extension has no state to take.
    let no_ext = build_error(&format!(
        "(path: {plugin:?}, id: {GAIN_ID:?}, state: {foreign:?})"
    ));
    assert!(
        no_ext.to_string().contains("has no state extension"),
        "{no_ext}"
    );
}

#[test]
fn a_plugin_without_state_has_no_state_task() {
    let (task, _) = run_fade(&config(GAIN_ID), 10);
    assert!(task.is_none());
}
