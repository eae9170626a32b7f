//! Graph files through the real binary: every shipped graph in graphs/ loads, checks and
//! renders; every broken graph in tests/bad_graphs/ fails `lathe check` with exit code 2
//! and exactly the messages in its `.expected` file.

mod lv2_support;
use lv2_support::lv2_plugins_present;
use std::path::{Path, PathBuf};
use std::process::Command;

const LATHE: &str = env!("CARGO_BIN_EXE_lathe");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("folder exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lathe-graphs-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn broken_graphs_report_exactly_what_is_wrong() {
    let dir = repo().join("tests/bad_graphs");
    let graphs = files_with_extension(&dir, "ron");
    assert!(graphs.len() >= 8, "the bad graph cases are present");
    for graph in graphs {
        let rel = graph.strip_prefix(repo()).expect("inside the repo");
        let out = Command::new(LATHE)
            .arg("check")
            .arg(rel)
            .current_dir(repo())
            .output()
            .expect("lathe runs");
        let expected =
            std::fs::read_to_string(graph.with_extension("expected")).expect("expected text");
        assert_eq!(out.status.code(), Some(2), "{}: exit code", rel.display());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            expected,
            "{}: messages",
            rel.display()
        );
    }
}

/// Every shipped graph, with the demo (or the demo on every bus, for stem graphs).
#[test]
fn every_shipped_graph_checks_and_renders() {
    let dir = temp_dir("shipped");
    let demo = dir.join("demo.wav");
    let status = Command::new(LATHE)
        .args([
            "render",
            "graphs/multiband.ron",
            "--demo",
            "-q",
            "--bits",
            "32f",
            "-o",
        ])
        .arg(&demo)
        .current_dir(repo())
        .status()
        .expect("lathe runs");
    assert!(status.success());
    let graphs = files_with_extension(&repo().join("graphs"), "ron");
    assert!(graphs.len() >= 8, "graphs/ has the shipped chains");
    for graph in graphs {
        let name = graph
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if !lv2_plugins_present(
            &format!("graphs/{name}"),
            &std::fs::read_to_string(&graph).expect("readable"),
        ) {
            continue;
        }
        let check = Command::new(LATHE)
            .arg("check")
            .arg(&graph)
            .output()
            .expect("lathe runs");
        assert!(
            check.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let text = std::fs::read_to_string(&graph).expect("readable");
        assert!(
            text.starts_with("//"),
            "{name}: starts with a comment header saying what it does"
        );
        let out = dir.join(format!("{name}.wav"));
        let mut render = Command::new(LATHE);
        render
            .arg("render")
            .arg(&graph)
            .arg("-q")
            .arg("-o")
            .arg(&out);
        if name == "stems" {
            render.arg(format!("music={}", demo.display()));
            render.arg(format!("vocals={}", demo.display()));
        } else {
            render.arg(&demo);
        }
        let result = render.output().expect("lathe runs");
        assert!(
            result.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let reader = hound::WavReader::open(&out).expect("a WAV was written");
        assert_eq!(reader.spec().channels, 2, "{name}");
        assert_eq!(
            reader.duration(),
            30 * 48_000,
            "{name}: same length as the input"
        );
    }
}
