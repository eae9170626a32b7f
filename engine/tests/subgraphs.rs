//! Subgraphs (a node whose kind is another graph file) and saving graphs back to RON.

mod common;

use std::path::PathBuf;

use common::*;
use lathe_engine::graph::save::to_ron;
use lathe_engine::{CompileOptions, ControlSurface, GraphDoc, compile};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lathe-engine-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

//  outer:  in -> pre(lat 8) -> sub -> out
//  sub (inner.ron):  in.main -> x(lat 16) -> out.main ; in.main -> out.main (parallel dry)
#[test]
fn subgraphs_inline_with_prefixed_ids_and_aligned_latency() {
    let dir = temp_dir("sub");
    std::fs::write(
        dir.join("inner.ron"),
        r#"(nodes: [(id: "x", kind: "tdelay", config: (latency: 16), params: {"gain": 0.5})],
            links: ["in -> x -> out", "in -> out"])"#,
    )
    .expect("write");
    let outer = dir.join("outer.ron");
    std::fs::write(
        &outer,
        r#"(nodes: [(id: "pre", kind: "tdelay", config: (latency: 8)), (id: "sub", kind: "inner.ron")],
            links: ["in -> pre -> sub -> out"])"#,
    )
    .expect("write");
    let doc = GraphDoc::load(&outer).expect("parses");
    let compiled = compile(&doc, &registry(), &CompileOptions::new(prepare(64))).expect("valid");
    assert_eq!(compiled.info.latency_frames, 24);
    assert_eq!(compiled.info.files.len(), 2);
    let (mut ctl, mut engine) = lathe_engine::engine(compiled);
    assert_eq!(ctl.param("sub.x.gain").expect("prefixed path"), 0.5);
    let out = render_engine(&mut engine, &impulse(2, 100, 0), 2, 64);
    assert_eq!(out[0][24], 1.5, "dry 1 + wet 0.5, aligned");
    ctl.set_param("sub.x.gain", 1.0).expect("settable");
}

#[test]
fn subgraph_problems_name_the_inner_file() {
    let dir = temp_dir("subbad");
    std::fs::write(
        dir.join("inner.ron"),
        r#"(nodes: [(id: "x", kind: "nope")], links: ["in -> x -> out"])"#,
    )
    .expect("write");
    std::fs::write(
        dir.join("self.ron"),
        r#"(nodes: [(id: "me", kind: "self.ron")], links: ["in -> me -> out"])"#,
    )
    .expect("write");
    let outer = dir.join("outer.ron");
    std::fs::write(
        &outer,
        r#"(nodes: [(id: "sub", kind: "inner.ron")], links: ["in -> sub -> out"])"#,
    )
    .expect("write");
    let doc = GraphDoc::load(&outer).expect("parses");
    let err =
        compile(&doc, &registry(), &CompileOptions::new(prepare(64))).expect_err("bad inner kind");
    let msg = err.to_string();
    assert!(
        msg.contains("inner.ron:1:11: error: node `sub.x` has unknown kind `nope`"),
        "{msg}"
    );
    let doc = GraphDoc::load(&dir.join("self.ron")).expect("parses");
    let err = compile(&doc, &registry(), &CompileOptions::new(prepare(64))).expect_err("recursive");
    assert!(err.to_string().contains("includes itself"), "{err}");
}

#[test]
fn saved_graph_reloads_to_the_same_graph() {
    let text = r#"// a comment
(
    inputs: {"main": 2},
    outputs: {"main": 2},
    nodes: [
        (id: "a", kind: "tdelay", config: (latency: 3), params: {"gain": 0.25}),
        (id: "b", kind: "tdelay"),
    ],
    links: ["in -> a -> b -> out"],
)"#;
    let doc = GraphDoc::parse(std::path::Path::new("g.ron"), text).expect("parses");
    let saved = to_ron(&doc, &[("b".into(), vec![("gain".into(), -1.5)])]);
    let again = GraphDoc::parse(std::path::Path::new("g.ron"), &saved).expect("saved text parses");
    assert_eq!(again.nodes.len(), 2);
    assert_eq!(again.nodes[0].config.as_deref(), Some("(latency: 3)"));
    assert_eq!(
        again.nodes[0].params[0].value,
        lathe_engine::ParamValue::Number(0.25)
    );
    assert_eq!(
        again.nodes[1].params[0].value,
        lathe_engine::ParamValue::Number(-1.5)
    );
    // Saving the reloaded graph with no changes is a fixed point.
    assert_eq!(
        to_ron(&again, &[]).lines().skip(1).collect::<Vec<_>>(),
        saved.lines().skip(1).collect::<Vec<_>>()
    );
    let compiled = compile(&again, &registry(), &CompileOptions::new(prepare(64))).expect("valid");
    assert_eq!(compiled.info.nodes[1].values[0], -1.5);
}
