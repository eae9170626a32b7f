//! The compiler's messages on broken graphs: every problem, with position and a fix.

mod common;

use common::*;

/// Asserts the problem report `msg` contains every one of `needles`.
fn assert_mentions(msg: &str, needles: &[&str]) {
    for needle in needles {
        assert!(msg.contains(needle), "lacks {needle:?}:\n{msg}");
    }
}

fn problems(text: &str) -> String {
    compile_text(text, 64)
        .expect_err("graph is broken")
        .to_string()
}

#[test]
fn syntax_error_has_line_and_column() {
    let msg = problems("(\n  nodes: [\n    (id: \"a\" kind: \"tdelay\"),\n  ],\n)");
    assert_eq!(
        msg,
        "test.ron:3:14: error: syntax error: Expected comma\n1 problem found"
    );
}

#[test]
fn unknown_top_level_field_suggests_the_right_one() {
    let msg = problems("(nodes: [], link: [])");
    assert_eq!(
        msg,
        "test.ron:1:13: error: unknown field `link`; expected one of `inputs`, `outputs`, `nodes`, `links`\n  help: did you mean `links`?\n1 problem found"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let g = r#"(
    nodes: [
        (id: "a", kind: "tdelya"),
        (id: "b", kind: "tdelay", params: {"gian": 2}),
        (id: "c", kind: "tdelay", params: {"gain": 9}),
        (id: "b", kind: "tdelay"),
        (id: "m", kind: "tmono"),
        (id: "d", kind: "tdelay", config: (latncy: 3)),
    ],
    links: ["in -> b -> c -> out", "c -> m", "in -> x"],
)"#;
    let msg = problems(g);
    let expected = [
        "test.ron:3:10: error: node `a` has unknown kind `tdelya`\n  help: did you mean `tdelay`? known kinds: tdelay, tmono, tnan, tsplit",
        "test.ron:6:10: error: duplicate node id `b`\n  help: `b` is first defined at test.ron:4:10; ids must be unique",
    ];
    for e in expected {
        assert!(msg.contains(e), "missing:\n{e}\nin:\n{msg}");
    }
    assert!(
        msg.contains(
            "test.ron:4:44: error: node `b` has no param `gian`\n  help: did you mean `gain`?"
        ),
        "{msg}"
    );
    assert_mentions(
        &msg,
        &[
            "test.ron:5:44: error: `c.gain`: value 9 is out of range; allowed -4 ..= 4",
            "test.ron:8:44: error: bad config for node `d` (tdelay): Unexpected field named `latncy`, expected one of `latency`, `channels`, `smoothing_ms`, or `scale` instead",
            "error: channel mismatch: `c.out` carries 2 channels but `m.in` takes 1",
            "test.ron:10:46: error: link names unknown node `x`\n",
        ],
    );
    assert!(
        !msg.contains("`m.in` is not linked"),
        "no second report for a rejected link: {msg}"
    );
    // Sorted by position.
    let lines: Vec<usize> = msg
        .lines()
        .filter_map(|l| l.strip_prefix("test.ron:")?.split(':').next()?.parse().ok())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert!(msg.ends_with("problems found"), "{msg}");
}

//   a -> b -> c -> a
#[test]
fn cycles_are_reported_with_their_path() {
    let g = r#"(
    nodes: [(id: "a", kind: "tdelay"), (id: "b", kind: "tdelay"), (id: "c", kind: "tdelay")],
    links: ["in -> a -> b -> c -> a", "c -> out"],
)"#;
    let msg = problems(g);
    assert!(
        msg.contains("error: cycle in the graph: a -> b -> c -> a"),
        "{msg}"
    );
}

#[test]
fn dangling_ports_and_unlinked_inputs() {
    let g = r#"(
    nodes: [(id: "s", kind: "tsplit"), (id: "lonely", kind: "tdelay")],
    links: ["in -> s", "s -> out", "s.c -> out"],
)"#;
    let msg = problems(g);
    assert_mentions(
        &msg,
        &[
            "error: node `s` has 2 output ports: name one\n  help: write `s.PORT` with PORT one of `a` or `b`",
            "error: node `s` has no output port `c`",
            "error: input `lonely.in` is not linked",
        ],
    );
}
