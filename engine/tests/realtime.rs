//! The engine's own audio path allocates nothing: block splitting, param changes,
//! bypass, delays, meters and a graph swap with crossfade all run under the checker.

mod common;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count};
use common::*;
use lathe_engine::ControlSurface;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

#[test]
fn engine_process_and_swap_do_not_allocate() {
    let g = r#"(
        nodes: [(id: "slow", kind: "tdelay", config: (latency: 40)), (id: "fast", kind: "tdelay"), (id: "s", kind: "tsplit")],
        links: ["in -> slow -> out", "in -> fast -> s", "s.a -> out", "s.b -> out"],
    )"#;
    let (mut ctl, mut engine) = lathe_engine::engine(compile_text(g, 128).expect("valid"));
    // A config edit (node-level fade) and, below, a structural edit (moves and a node
    // gliding in) and a swap to a graph with nothing in common (whole-graph fade).
    let next = compile_text(&g.replace("latency: 40", "latency: 41"), 128).expect("valid");
    let input = sine(2, 3000, 300.0);
    let mut out = vec![vec![0.0f32; 3000]; 2];
    ctl.set_param("slow.bypass", 1.0).expect("param");
    ctl.swap(next).expect("swap");
    reset_violation_count();
    assert_no_alloc(|| {
        let ins: [&[f32]; 2] = [&input[0], &input[1]];
        let (l, r) = out.split_at_mut(1);
        let mut outs: [&mut [f32]; 2] = [&mut l[0], &mut r[0]];
        engine.process(&ins, &mut outs, 3000); // larger than the prepared block: split
        engine.process(&ins, &mut outs, 1);
    });
    assert_eq!(violation_count(), 0, "allocations on the audio path");
    assert!(ctl.swap_done());
    assert_eq!(
        ctl.collect_garbage(),
        1,
        "the old graph comes back to be freed"
    );
    // A structural edit: moved processors, a new node gliding in from bypass.
    let bigger = g.replace(
        "(id: \"s\", kind: \"tsplit\")",
        "(id: \"s\", kind: \"tsplit\"), (id: \"new\", kind: \"tdelay\", params: {\"gain\": 0.5})",
    )
    .replace("\"s.b -> out\"", "\"s.b -> new -> out\"");
    ctl.swap(compile_text(&bigger, 128).expect("valid"))
        .expect("swap");
    reset_violation_count();
    assert_no_alloc(|| {
        let ins: [&[f32]; 2] = [&input[0], &input[1]];
        let (l, r) = out.split_at_mut(1);
        let mut outs: [&mut [f32]; 2] = [&mut l[0], &mut r[0]];
        engine.process(&ins, &mut outs, 3000);
    });
    assert_eq!(violation_count(), 0, "allocations during a structural swap");
    assert_eq!(ctl.collect_garbage(), 1);
    // Nothing in common: a whole-graph crossfade.
    let other = r#"(nodes: [(id: "z", kind: "tdelay")], links: ["in -> z -> out"])"#;
    ctl.swap(compile_text(other, 128).expect("valid"))
        .expect("swap");
    reset_violation_count();
    assert_no_alloc(|| {
        let ins: [&[f32]; 2] = [&input[0], &input[1]];
        let (l, r) = out.split_at_mut(1);
        let mut outs: [&mut [f32]; 2] = [&mut l[0], &mut r[0]];
        // Past the new graph's warm-up (100 ms) and the crossfade (10 ms).
        for _ in 0..2 {
            engine.process(&ins, &mut outs, 3000);
        }
    });
    assert_eq!(
        violation_count(),
        0,
        "allocations during a whole-graph crossfade"
    );
    assert_eq!(ctl.collect_garbage(), 1);
}
