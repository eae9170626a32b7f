//! Hostile scripts: every sandbox limit and run-time error is reported once with the
//! script's name and position, the script stops, and the other scripts keep ticking.

mod surface;

use lathe_engine::NodeConfig;
use lathe_scripting::{ScriptHost, ScriptSpec};
use surface::TestSurface;

const RATE: f64 = 48_000.0;

fn inline(node_id: &str, source: &str) -> ScriptSpec {
    let config = format!("(source: {source:?}, rate_hz: 20)");
    ScriptSpec::from_config(
        node_id,
        &NodeConfig::from_ron(&config),
        std::path::Path::new("."),
    )
    .unwrap_or_else(|e| panic!("{node_id}: {e}"))
}

/// (node id, source, line of the failure, text the message must contain)
const HOSTILE: &[(&str, &str, usize, &str)] = &[
    (
        "endless_loop",
        "fn tick(ctx) {\n    let i = 0;\n    loop { i += 1; }\n}",
        3,
        "Too many operations",
    ),
    (
        "deep_recursion",
        "fn down(n) { down(n + 1) }\nfn tick(ctx) {\n    down(0);\n}",
        1, // inside `down`
        "Stack overflow",
    ),
    (
        "huge_string",
        "fn tick(ctx) {\n    let s = \"0123456789\";\n    loop { s += s; }\n}",
        3,
        "Length of string",
    ),
    (
        "huge_array",
        "fn tick(ctx) {\n    let a = [];\n    loop { a.push(1.0); }\n}",
        3,
        "Size of array",
    ),
    (
        "huge_map",
        "fn tick(ctx) {\n    let m = #{};\n    for i in 0..100000 {\n        let one = #{};\n        one[`k${i}`] = i;\n        m += one;\n    }\n}",
        6,
        "Size of object map",
    ),
    (
        "unknown_function",
        "fn tick(ctx) {\n    let x = 1.0;\n    frobnicate(x);\n}",
        3,
        "Function not found: frobnicate",
    ),
    (
        "bad_path",
        "fn tick(ctx) {\n    ctx.set(\"trim.gian_db\", 1.0);\n}",
        2,
        "unknown param `trim.gian_db`",
    ),
    (
        "bad_meter",
        "fn tick(ctx) {\n    let x = ctx.meter(\"loud.nope\");\n}",
        2,
        "unknown meter `loud.nope`",
    ),
    (
        "wrong_type",
        "fn tick(ctx) {\n    ctx.set(\"trim.gain_db\", \"loud\");\n}",
        2,
        "the value for `trim.gain_db` must be a number, found string",
    ),
    (
        "wrong_path_type",
        "fn tick(ctx) {\n    ctx.set(42, 1.0);\n}",
        2,
        "Function not found: set (Ctx, i64, f64)",
    ),
    (
        "not_finite",
        "fn tick(ctx) {\n    ctx.set(\"trim.gain_db\", 0.0 / 0.0);\n}",
        2,
        "is not a finite number",
    ),
    (
        "top_level_loop",
        "let n = 0;\nwhile true { n += 1; }\nfn tick(ctx) {}",
        2,
        "Too many operations",
    ),
    (
        "throws",
        "fn init(ctx) {\n    throw \"no way\";\n}",
        2,
        "no way",
    ),
    (
        "sleeps",
        "fn tick(ctx) {\n    sleep(1000);\n}",
        2,
        "`sleep` is not available in scripts",
    ),
    (
        "sleeps_float",
        "fn tick(ctx) {\n    sleep(0.5);\n}",
        2,
        "`sleep` is not available in scripts",
    ),
    (
        "wall_time",
        "let t0 = 0;\nt0 = timestamp();",
        2,
        "`timestamp` is not available in scripts",
    ),
    (
        "exits",
        "fn tick(ctx) {\n    exit(1);\n}",
        2,
        "`exit` is not available",
    ),
];

const ALIVE: &str = "let n = 0;\nfn tick(ctx) {\n    n += 1;\n    ctx.set(\"alive.count\", n);\n}";

/// Uses about 60 000 operations every tick: far under the per-tick limit, far over it in
/// total, so it must keep running.
const HEAVY: &str = "fn tick(ctx) {\n    let i = 0;\n    while i < 10000 { i += 1; }\n    ctx.set(\"heavy.done\", ctx.param(\"heavy.done\") + 1);\n}";

fn run_seconds(host: &mut ScriptHost, surface: &mut TestSurface, from_s: u64, to_s: u64) {
    let end = to_s * RATE as u64;
    while let Some(f) = host.next_tick_frame().filter(|f| *f < end) {
        assert!(f >= from_s * RATE as u64);
        surface.position_frames = f;
        host.tick_due(f, surface);
    }
}

#[test]
fn every_limit_is_reported_once_with_position_and_others_keep_ticking() {
    let mut specs: Vec<ScriptSpec> = HOSTILE
        .iter()
        .map(|(id, source, ..)| inline(id, source))
        .collect();
    specs.insert(4, inline("alive", ALIVE));
    specs.push(inline("heavy", HEAVY));
    let mut host = ScriptHost::new(specs, RATE).expect("all compile");
    let mut surface = TestSurface::new(RATE)
        .with_param("trim.gain_db", -24.0, 24.0, 0.0)
        .with_param("alive.count", 0.0, 1e6, 0.0)
        .with_param("heavy.done", 0.0, 1e6, 0.0)
        .with_meter("loud.short_term_lufs", -14.0);
    let started = std::time::Instant::now();
    run_seconds(&mut host, &mut surface, 0, 2);
    let reports = host.take_reports();
    for r in &reports {
        println!("{r}");
    }
    assert_eq!(
        reports.len(),
        HOSTILE.len(),
        "one report per hostile script"
    );
    for (id, _, line, text) in HOSTILE {
        let r = reports
            .iter()
            .find(|r| r.node_id == *id)
            .unwrap_or_else(|| panic!("{id} not reported"));
        assert_eq!(r.script, format!("{id} (inline source)"));
        let pos = r.pos.unwrap_or_else(|| panic!("{id}: no position in {r}"));
        assert_eq!(pos.line, *line, "{id}: {r}");
        assert!(
            r.message.contains(text),
            "{id}: `{}` lacks `{text}`",
            r.message
        );
        assert_eq!(r.position_frames, 0, "{id} fails on its first tick");
        assert!(host.is_stopped(id));
    }
    // The healthy scripts ran all 40 ticks; nothing was touched by the failed ones.
    assert_eq!(surface.value("alive.count"), 40.0);
    assert_eq!(surface.value("heavy.done"), 40.0);
    assert!(!host.is_stopped("alive") && !host.is_stopped("heavy"));
    assert!(surface.sets_of("trim.gain_db").is_empty());
    // Reported once: later ticks add nothing, and the healthy scripts go on.
    run_seconds(&mut host, &mut surface, 2, 4);
    assert!(host.take_reports().is_empty());
    assert_eq!(surface.value("alive.count"), 80.0);
    println!(
        "sandbox: 4 s of ticks with every hostile script took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_failing_script_keeps_its_last_values() {
    // Sets the gain each tick, then fails at 1 s (tick 20) on a misspelt path.
    let source = "let n = 0;\nfn tick(ctx) {\n    n += 1;\n    ctx.set(\"trim.gain_db\", -n * 0.1);\n    if n == 21 { ctx.set(\"trim.gian_db\", 0.0); }\n}";
    let mut host = ScriptHost::new(vec![inline("fails_late", source)], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE).with_param("trim.gain_db", -24.0, 24.0, 0.0);
    run_seconds(&mut host, &mut surface, 0, 3);
    let reports = host.take_reports();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.position_frames, 48_000);
    assert_eq!(r.pos.map(|p| (p.line, p.col)), Some((5, 22)));
    assert_eq!(
        r.to_string(),
        "fails_late (inline source):5:22: unknown param `trim.gian_db` \
         (script node `fails_late` stopped at frame 48000)"
    );
    // The value set just before the failure stays; no later set.
    assert!((surface.value("trim.gain_db") + 2.1).abs() < 1e-6);
    assert_eq!(surface.sets.len(), 21);
    assert_eq!(host.next_tick_frame(), None);
}

#[test]
fn state_growing_across_ticks_is_stopped() {
    // 100 entries per tick into a map kept between ticks: over 256 on the third tick.
    let source = "let m = #{};\nlet n = 0;\nfn tick(ctx) {\n    for i in 0..100 { m[`k${n}`] = n; n += 1; }\n}";
    let mut host = ScriptHost::new(vec![inline("grows", source)], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE);
    run_seconds(&mut host, &mut surface, 0, 1);
    let reports = host.take_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].position_frames, 2 * 2400);
    assert_eq!(
        reports[0].message,
        "Object map of 300 entries in `m`, kept between ticks, too large"
    );
}
