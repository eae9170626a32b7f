//! The `script` node kind: the shared harness, its spec, and build errors (missing file,
//! syntax errors with line:col, disabled symbols).

use std::path::{Path, PathBuf};

use lathe_engine::harness::{Case, LatencyCheck, check_kind};
use lathe_engine::{BuildContext, ConfigError, NodeConfig, NodeKind, PrepareInfo, Registry, Unit};
use lathe_scripting::{ScriptError, ScriptHost, ScriptKind, ScriptPos, ScriptSpec};

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const PARAMS: &str = r#"params: {"target_lufs": (min: -30, max: -6, default: -14, unit: "LUFS"), "range_db": (min: 0, max: 12, default: 6, unit: "dB")}"#;

#[test]
fn script_passes_harness() {
    check_kind(&Case::new(&ScriptKind).latency(LatencyCheck::Skip));
    let config = format!("(source: \"fn tick(ctx) {{}}\", rate_hz: 50, {PARAMS})");
    check_kind(
        &Case::new(&ScriptKind)
            .config(&config)
            .params(&[("target_lufs", -12.0)])
            .latency(LatencyCheck::Skip),
    );
}

fn build(config: &str, base_dir: &Path) -> Result<lathe_engine::BuiltNode, ConfigError> {
    let ctx = BuildContext {
        prepare: PrepareInfo::new(48_000.0, 512),
        node_id: "rider",
        base_dir,
    };
    ScriptKind.build(&NodeConfig::from_ron(config), &ctx)
}

fn graphs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs")
}

#[test]
fn spec_has_the_declared_params_and_no_audio() {
    let built = build(&format!("(file: \"rider.rhai\", {PARAMS})"), &graphs_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    let spec = &built.spec;
    assert!(spec.inputs.is_empty() && spec.outputs.is_empty() && spec.meters.is_empty());
    assert_eq!(spec.latency_frames, 0);
    let names: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["range_db", "target_lufs"]);
    let target = &spec.params[1];
    assert_eq!(
        (target.min, target.max, target.default),
        (-30.0, -6.0, -14.0)
    );
    assert_eq!(target.unit, Unit::Lufs);
}

#[test]
fn register_all_adds_the_script_kind() {
    let mut registry = Registry::new();
    lathe_scripting::register_all(&mut registry);
    assert_eq!(registry.names().collect::<Vec<_>>(), ["script"]);
    assert!(!ScriptKind.doc().is_empty());
}

#[test]
fn every_shipped_script_compiles() {
    let mut found = 0;
    for entry in std::fs::read_dir(graphs_dir()).expect("graphs/ exists") {
        let path = entry.expect("readable dir").path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .expect("utf-8 name");
            build(&format!("(file: {file:?})"), &graphs_dir())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            found += 1;
        }
    }
    assert!(found >= 3, "found {found} scripts");
}

#[test]
fn missing_file_names_the_path() {
    let err = build("(file: \"nope.rhai\")", Path::new("some/dir")).err();
    match err {
        Some(ConfigError::Invalid { field, message }) => {
            assert_eq!(field, "file");
            assert!(
                message.starts_with("cannot read script `some/dir/nope.rhai`: "),
                "{message}"
            );
        }
        other => panic!("expected an error on `file`, got {other:?}"),
    }
}

/// A script file with a syntax error on line 3.
const BROKEN: &str = "let x = 1;\nfn tick(ctx) {\n    let y = x +;\n}\n";

#[test]
fn syntax_errors_give_script_line_and_column() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("script_kind_syntax");
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("broken.rhai"), BROKEN).expect("write script");
    let message = match build("(file: \"broken.rhai\")", &dir) {
        Err(ConfigError::Invalid { field, message }) if field == "script" => message,
        other => panic!("expected a script error, got {:?}", other.err()),
    };
    let expected = format!("{}:3:16: ", dir.join("broken.rhai").display());
    assert!(message.starts_with(&expected), "{message}");
    println!("{message}");

    // The same through ScriptHost::new, inline.
    let config = format!("(source: {BROKEN:?})");
    let spec = ScriptSpec::from_config("inline", &NodeConfig::from_ron(&config), &dir)
        .expect("config is fine");
    match ScriptHost::new(vec![spec], 48_000.0) {
        Err(ScriptError::Compile { script, pos, .. }) => {
            assert_eq!(script, "inline (inline source)");
            assert_eq!(pos, Some(ScriptPos { line: 3, col: 16 }));
        }
        Err(other) => panic!("expected a compile error, got {other}"),
        Ok(_) => panic!("expected a compile error"),
    }
}

#[test]
fn import_and_eval_are_not_available() {
    for (source, line) in [
        ("let a = 1;\nimport \"os\" as os;", 2),
        ("fn tick(ctx) {\n    eval(\"1\");\n}", 2),
    ] {
        let config = format!("(source: {source:?})");
        match build(&config, Path::new(".")) {
            Err(ConfigError::Invalid { field, message }) => {
                assert_eq!(field, "script");
                assert!(
                    message.starts_with(&format!("rider (inline source):{line}:")),
                    "{message}"
                );
                println!("{message}");
            }
            other => panic!("{source}: expected an error, got {:?}", other.err()),
        }
    }
}

#[test]
fn bad_config_is_a_config_error() {
    match build("(rate_hz: -1)", Path::new(".")) {
        Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "rate_hz"),
        other => panic!("{:?}", other.err()),
    }
    match build("(rate: 20)", Path::new(".")) {
        Err(ConfigError::Parse { line, col, .. }) => assert_eq!((line, col), (1, 2)),
        other => panic!("{:?}", other.err()),
    }
}
