//! Compiler and executor tests on small graphs of test kinds.

mod common;

use common::*;
use lathe_engine::ControlSurface;

//          +--> slow (latency 64) --+
//  in ----+                          +--> out   (two links into one port: summed)
//          +--> fast (latency 0) ---+
#[test]
fn branches_of_different_latency_sum_to_one_clean_impulse() {
    let g = r#"(
        nodes: [
            (id: "slow", kind: "tdelay", config: (latency: 64)),
            (id: "fast", kind: "tdelay"),
        ],
        links: ["in -> slow -> out", "in -> fast -> out"],
    )"#;
    let compiled = compile_text(g, 256).expect("valid graph");
    assert_eq!(compiled.info.latency_frames, 64);
    assert!(
        compiled
            .info
            .delays
            .iter()
            .any(|d| d.frames == 64 && d.key.starts_with("fast.out->"))
    );
    let out = render(compiled, &impulse(2, 1000, 100), 256);
    for ch in &out {
        for (i, &x) in ch.iter().enumerate() {
            let want = if i == 164 { 2.0 } else { 0.0 };
            assert_eq!(x, want, "frame {i}");
        }
    }
}

//  in -> a(lat 10) -> b(lat 5) -+
//  in ------------------------- +-> out      every output aligned to 15 frames
#[test]
fn latency_accumulates_along_chains() {
    let g = r#"(
        nodes: [(id: "a", kind: "tdelay", config: (latency: 10)), (id: "b", kind: "tdelay", config: (latency: 5))],
        links: ["in -> a -> b -> out", "in -> out"],
    )"#;
    let compiled = compile_text(g, 64).expect("valid");
    assert_eq!(compiled.info.latency_frames, 15);
    let b = compiled.info.nodes.iter().find(|n| n.id == "b").expect("b");
    assert_eq!(b.input_latency_frames, 10);
    let out = render(compiled, &impulse(2, 100, 0), 7);
    assert_eq!(out[0][15], 2.0);
    assert_eq!(out[0].iter().filter(|x| **x != 0.0).count(), 1);
}

//  in -> d1 -> d2 -> ... -> d100 -> out
#[test]
fn long_chains_reuse_buffers() {
    let nodes: Vec<String> = (1..=100)
        .map(|i| format!("(id: \"d{i}\", kind: \"tdelay\")"))
        .collect();
    let chain: Vec<String> = (1..=100).map(|i| format!("d{i}")).collect();
    let g = format!(
        "(nodes: [{}], links: [\"in -> {} -> out\"])",
        nodes.join(", "),
        chain.join(" -> ")
    );
    let compiled = compile_text(&g, 64).expect("valid");
    // Two channels in flight, plus one bus being written: a handful of buffers.
    assert!(
        compiled.info.buffers <= 7,
        "{} buffers",
        compiled.info.buffers
    );
    let out = render(compiled, &impulse(2, 50, 3), 16);
    assert_eq!(out[1][3], 1.0);
}

//  in -> split.a -> x(lat 32) -> out     (outputs of one node on different paths)
//        split.b -----------------^
#[test]
fn named_ports_and_block_size_invariance() {
    let g = r#"(
        nodes: [(id: "split", kind: "tsplit"), (id: "x", kind: "tdelay", config: (latency: 32))],
        links: ["in -> split", "split.a -> x -> out", "split.b -> out"],
    )"#;
    let input = sine(2, 5000, 997.0);
    let reference = render(compile_text(g, 512).expect("valid"), &input, 512);
    for block in [1, 7, 64, 333] {
        let out = render(compile_text(g, 512).expect("valid"), &input, block);
        assert_eq!(out, reference, "block {block}");
    }
    // Both paths aligned: the output is the input, doubled, 32 frames late.
    assert_eq!(reference[0][1032], 2.0 * input[0][1000]);
}

#[test]
fn bypass_keeps_alignment_and_fades() {
    //  in -> slow(lat 64, gain 0) -> out ; in -> out
    let g = r#"(
        nodes: [(id: "slow", kind: "tdelay", config: (latency: 64), params: {"gain": 0, "bypass": true})],
        links: ["in -> slow -> out", "in -> out"],
    )"#;
    let out = render(
        compile_text(g, 128).expect("valid"),
        &impulse(2, 400, 10),
        128,
    );
    // Bypassed: dry path delayed by the node's latency, so still one impulse of 2.
    assert_eq!(out[0][74], 2.0);
    assert_eq!(out[0].iter().filter(|x| **x != 0.0).count(), 1);

    // Switching bypass off while a sine plays: no step larger than the sine's own slope.
    let g2 = g
        .replace("\"bypass\": true", "\"bypass\": false")
        .replace("\"gain\": 0", "\"gain\": 1");
    let compiled = compile_text(&g2, 64).expect("valid");
    let (mut ctl, mut engine) = lathe_engine::engine(compiled);
    let input = sine(2, 9600, 100.0);
    let a = render_engine(
        &mut engine,
        &[input[0][..4800].to_vec(), input[1][..4800].to_vec()],
        2,
        64,
    );
    ctl.set_param("slow.bypass", 1.0).expect("bypass exists");
    let b = render_engine(
        &mut engine,
        &[input[0][4800..].to_vec(), input[1][4800..].to_vec()],
        2,
        64,
    );
    let joined: Vec<f32> = a[0].iter().chain(&b[0]).copied().collect();
    let max_step = joined
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    let sine_step = 2.0 * 0.5 * 2.0 * std::f32::consts::PI * 100.0 / 48_000.0;
    assert!(
        max_step <= sine_step * 1.01,
        "step {max_step} > {sine_step}"
    );
}

#[test]
fn non_finite_output_is_silenced_and_counted() {
    let g = r#"(nodes: [(id: "bad", kind: "tnan")], links: ["in -> bad -> out"])"#;
    let compiled = compile_text(g, 64).expect("valid");
    let (ctl, mut engine) = lathe_engine::engine(compiled);
    let out = render_engine(&mut engine, &impulse(2, 100, 0), 2, 64);
    assert!(out.iter().flatten().all(|x| *x == 0.0));
    assert_eq!(ctl.non_finite_report(), vec![("bad".to_string(), 200)]);
}

#[test]
fn param_changes_apply_at_the_next_block_and_meters_publish() {
    let g = r#"(nodes: [(id: "d", kind: "tdelay")], links: ["in -> d -> out"])"#;
    let (mut ctl, mut engine) = lathe_engine::engine(compile_text(g, 64).expect("valid"));
    let input = vec![vec![1.0f32; 128]; 2];
    let out = render_engine(&mut engine, &input, 2, 64);
    assert_eq!(out[0][127], 1.0);
    assert_eq!(ctl.meter("d.level").expect("meter"), 1.0);
    assert_eq!(
        ctl.set_param("d.gain", 9.0).expect("param"),
        4.0,
        "clamped to range"
    );
    let out = render_engine(&mut engine, &input, 2, 64);
    assert_eq!(out[0][0], 4.0);
    assert_eq!(ctl.param("d.gain").expect("param"), 4.0);
    let err = ctl.set_param("d.gian", 1.0).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "unknown param `d.gian` (did you mean `d.gain`?)"
    );
}

/// Renders `input` with a swap to `after` halfway; returns channel 0 of the output.
fn render_with_swap(before: &str, after: &str, input: &[Vec<f32>]) -> Vec<f32> {
    let half = input[0].len() / 2;
    let (mut ctl, mut engine) = lathe_engine::engine(compile_text(before, 64).expect("valid"));
    let first: Vec<Vec<f32>> = input.iter().map(|c| c[..half].to_vec()).collect();
    let second: Vec<Vec<f32>> = input.iter().map(|c| c[half..].to_vec()).collect();
    let a = render_engine(&mut engine, &first, 2, 64);
    ctl.swap(compile_text(after, 64).expect("valid"))
        .expect("same buses");
    let b = render_engine(&mut engine, &second, 2, 64);
    assert!(ctl.swap_done());
    assert_eq!(
        ctl.collect_garbage(),
        1,
        "the old graph is handed back to be freed"
    );
    a[0].iter().chain(&b[0]).copied().collect()
}

fn max_step(signal: &[f32]) -> f32 {
    signal
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

/// Asserts no sample-to-sample step of `out` is larger (1 % margin) than the largest step
/// of a 0.5-amplitude sine at `sine_hz` and 48 kHz: a crossfade between two versions of
/// that sine made no click.
fn assert_steps_no_larger_than_the_sine(out: &[f32], sine_hz: f32) {
    let sine_step = 0.5 * 2.0 * std::f32::consts::PI * sine_hz / 48_000.0;
    assert!(
        max_step(out) <= sine_step * 1.01,
        "step {} > {sine_step}",
        max_step(out)
    );
}

//  before:  in -> keep(lat 48) -> g(gain 1) -> out
//  after:   in -> keep(lat 48) -> g(gain 0.5) -> out     (a param edit: glides, state kept)
#[test]
fn hot_swap_of_a_param_keeps_state_and_glides() {
    let before = r#"(nodes: [(id: "keep", kind: "tdelay", config: (latency: 48)),
                             (id: "g", kind: "tdelay", config: (smoothing_ms: 5), params: {"gain": 1})],
                    links: ["in -> keep -> g -> out"])"#;
    let after = before.replace("\"gain\": 1", "\"gain\": 0.5");
    let input = sine(2, 4800, 440.0);
    let out = render_with_swap(before, &after, &input);
    // keep's delay line moved across: right after the swap the output is the delayed sine.
    let i = 2400 + 1;
    assert!(
        (out[i] - input[0][i - 48]).abs() < 0.01,
        "{} vs {}",
        out[i],
        input[0][i - 48]
    );
    // After the 5 ms glide the new gain rules.
    let j = 2400 + 600;
    assert!((out[j] - 0.5 * input[0][j - 48]).abs() < 1e-6);
    assert_steps_no_larger_than_the_sine(&out, 440.0);
}

/// Frames a rebuilt node (or a new graph) of `latency_frames` runs unheard before its
/// crossfade at 48 kHz: its latency plus `SWAP_SETTLE_MS`.
fn warmup(latency_frames: usize) -> usize {
    latency_frames + (lathe_engine::exec::SWAP_SETTLE_MS * 48.0).round() as usize
}

/// Frames of a swap crossfade at 48 kHz (`SWAP_CROSSFADE_MS`).
fn fade_frames() -> usize {
    (lathe_engine::exec::SWAP_CROSSFADE_MS * 48.0).round() as usize
}

/// Frame `t` of a sine of amplitude 0.5 (as `sine`), zero before the start.
fn sine_at(t: isize, freq_hz: f64) -> f32 {
    if t < 0 {
        return 0.0;
    }
    (0.5 * (2.0 * std::f64::consts::PI * freq_hz * t as f64 / RATE_HZ).sin()) as f32
}

//  before:  in -> g(scale 1) -> out
//  after:   in -> g(scale 0.25) -> out    (a config edit: node-level crossfade)
#[test]
fn hot_swap_of_a_config_crossfades_the_node() {
    let before =
        r#"(nodes: [(id: "g", kind: "tdelay", config: (scale: 1.0))], links: ["in -> g -> out"])"#;
    let after = before.replace("scale: 1.0", "scale: 0.25");
    let input = sine(2, 14_400, 440.0);
    let out = render_with_swap(before, &after, &input);
    let (swap, w) = (7200, warmup(0));
    assert_eq!(
        out[swap + w],
        input[0][swap + w],
        "the old node until the fade"
    );
    let end = swap + w + fade_frames();
    assert!(
        (out[end] - 0.25 * input[0][end]).abs() < 1e-6,
        "ends on the new node"
    );
    assert_steps_no_larger_than_the_sine(&out, 440.0);
}

//  before:  in -> keep(lat 48) -> g(lat 96)               -> tail(lat 32) -> out
//  after:   in -> keep(lat 48) -> g(lat 192, scale 0.5)   -> tail(lat 32) -> out
/// A config edit that changes the node's latency crossfades that node only, and only once
/// the new processor has filled its latency: before the fix the fresh `g` put out 192
/// frames of silence into the first 40% of the fade (a dip and a click). `keep` and
/// `tail` carry their delay lines, so the output is exactly the documented mix at `g`'s
/// output, delayed by `tail`: the old `g` alone for its warm-up (the new latency plus
/// `SWAP_SETTLE_MS`), then a 10 ms raised cosine to the new `g`.
#[test]
fn a_rebuilt_node_fills_its_latency_before_its_crossfade() {
    let before = r#"(nodes: [(id: "keep", kind: "tdelay", config: (latency: 48)),
                             (id: "g", kind: "tdelay", config: (latency: 96)),
                             (id: "tail", kind: "tdelay", config: (latency: 32))],
                    links: ["in -> keep -> g -> tail -> out"])"#;
    let after = before.replace("(latency: 96)", "(latency: 192, scale: 0.5)");
    let freq_hz = 440.0;
    let input = sine(2, 14_400, freq_hz);
    let out = render_with_swap(before, &after, &input);
    let swap = 7200;
    let (w, f) = (warmup(192), fade_frames());
    for (t, &y) in out.iter().enumerate() {
        // At g's output (t - 32): the old g (latency 96) and the new one (latency 192,
        // started empty at the swap).
        let at_g = t as isize - 32;
        let old = sine_at(at_g - 48 - 96, freq_hz);
        let new = if at_g - 192 >= swap as isize {
            0.5 * sine_at(at_g - 48 - 192, freq_hz)
        } else {
            0.0
        };
        let want = if at_g < swap as isize {
            old
        } else {
            let pos = at_g as usize - swap;
            if pos <= w {
                old
            } else {
                let g = lathe_engine::exec::runtime::crossfade_gain(pos - w, f);
                new * g + old * (1.0 - g)
            }
        };
        assert!((y - want).abs() <= 1e-6, "frame {t}: {y} vs {want}");
    }
    // A 96-frame jump back in time through a 10 ms raised cosine: the steps stay those of
    // the sine plus the fade's own slope (at most pi / 2F per frame) times the largest
    // difference of the two sides (0.5 + 0.25).
    let bound = 2.0 * std::f32::consts::PI * 0.5 * freq_hz as f32 / 48_000.0
        + 0.75 * std::f32::consts::PI / (2.0 * f as f32);
    assert!(max_step(&out) <= bound, "step {} > {bound}", max_step(&out));
}

//  before:  in -> a -> out
//  after:   in -> a -> b(gain -1) -> out     (a structural edit: b glides in from bypass)
#[test]
fn hot_swap_of_the_structure_glides_the_new_node_in() {
    let before = r#"(nodes: [(id: "a", kind: "tdelay")], links: ["in -> a -> out"])"#;
    let after = r#"(nodes: [(id: "a", kind: "tdelay"), (id: "b", kind: "tdelay", params: {"gain": -1})],
                   links: ["in -> a -> b -> out"])"#;
    let input = sine(2, 4800, 100.0);
    let out = render_with_swap(before, after, &input);
    assert!(
        (out[2400 + 500] + input[0][2900]).abs() < 1e-6,
        "inverted once b has glided in"
    );
    // A polarity flip through a 10 ms linear bypass ramp: no step beyond its own slope.
    let bound = 2.0 * 0.5 / 480.0 + 2.0 * 0.5 * 2.0 * std::f32::consts::PI * 100.0 / 48_000.0;
    assert!(max_step(&out) <= bound, "step {} > {bound}", max_step(&out));
}

/// Inserting, removing and reordering unity stages around a stateful node (a 48-frame
/// delay line inside `keep`) leaves the output exactly the render of the unchanged graph:
/// `keep` carries its processor into every new structure.
#[test]
fn structural_edits_keep_every_unchanged_nodes_state() {
    let base = r#"(nodes: [(id: "keep", kind: "tdelay", config: (latency: 48)), (id: "u", kind: "tdelay")],
                  links: ["in -> keep -> u -> out"])"#;
    let inserted = r#"(nodes: [(id: "keep", kind: "tdelay", config: (latency: 48)), (id: "u", kind: "tdelay"), (id: "v", kind: "tdelay")],
                  links: ["in -> keep -> v -> u -> out"])"#;
    let reordered = r#"(nodes: [(id: "keep", kind: "tdelay", config: (latency: 48)), (id: "u", kind: "tdelay"), (id: "v", kind: "tdelay")],
                  links: ["in -> u -> v -> keep -> out"])"#;
    let removed = r#"(nodes: [(id: "keep", kind: "tdelay", config: (latency: 48))], links: ["in -> keep -> out"])"#;
    let input = sine(2, 9600, 997.0);
    let plain = render(compile_text(base, 64).expect("valid"), &input, 64);
    let (mut ctl, mut engine) = lathe_engine::engine(compile_text(base, 64).expect("valid"));
    let mut out: Vec<f32> = Vec::new();
    for (k, next) in [inserted, reordered, removed, base].iter().enumerate() {
        let part: Vec<Vec<f32>> = input
            .iter()
            .map(|c| c[k * 1920..(k + 1) * 1920].to_vec())
            .collect();
        out.extend(&render_engine(&mut engine, &part, 2, 64)[0]);
        ctl.swap(compile_text(next, 64).expect("valid"))
            .expect("same buses");
    }
    let last: Vec<Vec<f32>> = input.iter().map(|c| c[4 * 1920..].to_vec()).collect();
    out.extend(&render_engine(&mut engine, &last, 2, 64)[0]);
    for (i, (x, y)) in out.iter().zip(&plain[0]).enumerate() {
        assert!((x - y).abs() <= 1e-6, "frame {i}: {x} vs {y}");
    }
}

//  before:  in -> a -> out
//  after:   in -> z(lat 96, gain -1) -> out     (nothing in common: whole-graph crossfade)
/// The new graph runs unheard for its latency plus `SWAP_SETTLE_MS`, then the whole output
/// crossfades: never into the silence the fresh graph holds for its first 96 frames.
#[test]
fn hot_swap_to_an_unrelated_graph_crossfades_the_graph() {
    let before = r#"(nodes: [(id: "a", kind: "tdelay")], links: ["in -> a -> out"])"#;
    let after = r#"(nodes: [(id: "z", kind: "tdelay", config: (latency: 96), params: {"gain": -1})],
                    links: ["in -> z -> out"])"#;
    let input = sine(2, 14_400, 100.0);
    let out = render_with_swap(before, after, &input);
    let (swap, w, f) = (7200, warmup(96), fade_frames());
    for (t, &y) in out.iter().enumerate() {
        let old = input[0][t];
        let want = if t < swap || t - swap <= w {
            old
        } else {
            let g = lathe_engine::exec::runtime::crossfade_gain(t - swap - w, f);
            -sine_at(t as isize - 96, 100.0) * g + old * (1.0 - g)
        };
        assert!((y - want).abs() <= 1e-6, "frame {t}: {y} vs {want}");
    }
    // A polarity flip through a 10 ms raised cosine: no step beyond the fade's own slope.
    let bound = 2.0 * 0.5 * std::f32::consts::PI / 480.0
        + 2.0 * 0.5 * 2.0 * std::f32::consts::PI * 100.0 / 48_000.0;
    assert!(max_step(&out) <= bound, "step {} > {bound}", max_step(&out));
}

#[test]
fn swap_to_identical_graph_is_transparent() {
    let g = r#"(nodes: [(id: "k", kind: "tdelay", config: (latency: 100))], links: ["in -> k -> out"])"#;
    let input = sine(2, 4000, 1234.0);
    let plain = render(compile_text(g, 64).expect("valid"), &input, 64);
    let (mut ctl, mut engine) = lathe_engine::engine(compile_text(g, 64).expect("valid"));
    let a = render_engine(
        &mut engine,
        &[input[0][..1000].to_vec(), input[1][..1000].to_vec()],
        2,
        64,
    );
    ctl.swap(compile_text(g, 64).expect("valid")).expect("swap");
    let b = render_engine(
        &mut engine,
        &[input[0][1000..].to_vec(), input[1][1000..].to_vec()],
        2,
        64,
    );
    let swapped: Vec<f32> = a[0].iter().chain(&b[0]).copied().collect();
    for (i, (x, y)) in swapped.iter().zip(&plain[0]).enumerate() {
        assert!((x - y).abs() <= 1e-6, "frame {i}: {x} vs {y}");
    }
}

#[test]
fn swap_refuses_different_buses() {
    let g = r#"(nodes: [], links: ["in -> out"])"#;
    let (mut ctl, _engine) = lathe_engine::engine(compile_text(g, 64).expect("valid"));
    let other = r#"(inputs: {"main": 1}, outputs: {"main": 1}, links: ["in -> out"])"#;
    let err = ctl
        .swap(compile_text(other, 64).expect("valid"))
        .expect_err("buses differ");
    assert!(err.to_string().contains("buses"), "{err}");
}
