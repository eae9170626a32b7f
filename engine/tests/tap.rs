//! Taps: a host listens to one node output inside the graph (a crossover band, say) while
//! the graph and its output stay as they are. The copy is exact, taken at the right point
//! even when the buffer is reused later in the schedule, kept over a swap, and allocation
//! free.

mod common;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count};
use common::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const GRAPH: &str = r#"(
    nodes: [
        (id: "a", kind: "tdelay", config: (scale: 0.5)),
        (id: "s", kind: "tsplit"),
        (id: "b", kind: "tdelay", config: (scale: 0.25)),
        (id: "c", kind: "tdelay", config: (scale: 0.125)),
    ],
    links: ["in -> a -> s", "s.a -> b -> out", "s.b -> c -> out"],
)"#;

const FRAMES: usize = 3000;

/// Runs `FRAMES` frames (more than the prepared 128: the engine splits them) and returns
/// the output, the tap and how many channels were tapped.
fn run(
    engine: &mut lathe_engine::Engine,
    input: &[Vec<f32>],
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>, usize) {
    let mut out = vec![vec![0.0f32; FRAMES]; 2];
    let mut tap = vec![vec![f32::NAN; FRAMES]; 2];
    reset_violation_count();
    let tapped = assert_no_alloc(|| {
        let ins: [&[f32]; 2] = [&input[0], &input[1]];
        let (l, r) = out.split_at_mut(1);
        let mut outs: [&mut [f32]; 2] = [&mut l[0], &mut r[0]];
        let (tl, tr) = tap.split_at_mut(1);
        let mut taps: [&mut [f32]; 2] = [&mut tl[0], &mut tr[0]];
        engine.process_tapped(&ins, &mut outs, &mut taps, FRAMES)
    });
    assert_eq!(violation_count(), 0, "allocations on the audio path");
    (out, tap, tapped)
}

#[test]
fn a_tap_copies_one_node_output_exactly_and_follows_swaps() {
    let (mut ctl, mut engine) = lathe_engine::engine(compile_text(GRAPH, 128).expect("valid"));
    let input = sine(2, FRAMES, 300.0);
    let scaled = |k: f32| -> Vec<Vec<f32>> {
        input
            .iter()
            .map(|ch| ch.iter().map(|x| x * k).collect())
            .collect()
    };

    let (out, _, tapped) = run(&mut engine, &input);
    assert_eq!(tapped, 0, "nothing chosen, nothing tapped");
    assert_eq!(out, scaled(0.5 * 0.25 + 0.5 * 0.125));

    ctl.listen(Some("s.b")).expect("a port of a node");
    let (out, tap, tapped) = run(&mut engine, &input);
    assert_eq!(tapped, 2);
    assert_eq!(tap, scaled(0.5), "the split's second output, before `c`");
    assert_eq!(
        out,
        scaled(0.5 * 0.25 + 0.5 * 0.125),
        "the output is unchanged"
    );

    ctl.listen(Some("b"))
        .expect("a node alone: its first output");
    let (_, tap, _) = run(&mut engine, &input);
    assert_eq!(tap, scaled(0.5 * 0.25));

    let err = ctl.listen(Some("s.c")).unwrap_err();
    assert!(err.contains("no output `c`; outputs: s.a, s.b"), "{err}");
    let err = ctl.listen(Some("bands.band2")).unwrap_err();
    assert!(err.contains("unknown node `bands`; nodes: a, s, "), "{err}");
    assert_eq!(
        ctl.listening(),
        Some("b"),
        "a refused choice keeps the last one"
    );

    // A config edit swaps in a new graph: the tap follows `b` into it.
    let edited = GRAPH.replace("scale: 0.25", "scale: 0.75");
    ctl.swap(compile_text(&edited, 128).expect("valid"))
        .expect("swap");
    // The rebuilt node warms up for 100 ms (4800 frames) before its 10 ms crossfade.
    let (_, _, tapped) = run(&mut engine, &input);
    assert_eq!(tapped, 2);
    let (_, tap, tapped) = run(&mut engine, &input);
    assert_eq!(tapped, 2);
    let tail = FRAMES - 100;
    assert_eq!(
        tap[0][tail..],
        scaled(0.5 * 0.75)[0][tail..],
        "after the node fade"
    );

    // A graph without `b` drops the tap.
    let without_b = r#"(nodes: [(id: "a", kind: "tdelay")], links: ["in -> a -> out"])"#;
    ctl.swap(compile_text(without_b, 128).expect("valid"))
        .expect("swap");
    assert_eq!(ctl.listening(), None);
    let (_, _, tapped) = run(&mut engine, &input);
    assert_eq!(tapped, 0);

    ctl.listen(Some("a")).expect("listen");
    ctl.listen(None).expect("stop listening");
    let (_, _, tapped) = run(&mut engine, &input);
    assert_eq!(tapped, 0);
}
