//! Whole graphs through the engine: graphs/master.ron (the reference mastering chain) and
//! a chain of 100 `gain` nodes, stereo 48 kHz in blocks of 64, 256 and 1024 frames.
//! Throughput is in frames, so criterion reports frames per second (48 000 = real time).

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lathe_engine::{CompileOptions, GraphDoc, PrepareInfo, compile, engine, harness};

const RATE_HZ: f64 = 48_000.0;
const BLOCKS: [usize; 3] = [64, 256, 1024];
/// Four seconds of the harness test signal, cycled through block after block.
const SIGNAL_FRAMES: usize = 4 * 48_000;

fn gain_chain(nodes: usize) -> String {
    let decls: Vec<String> = (1..=nodes)
        .map(|i| format!("(id: \"g{i}\", kind: \"gain\", params: {{\"gain_db\": -0.01}})"))
        .collect();
    let chain: Vec<String> = (1..=nodes).map(|i| format!("g{i}")).collect();
    format!(
        "(nodes: [{}], links: [\"in -> {} -> out\"])",
        decls.join(", "),
        chain.join(" -> ")
    )
}

fn bench_graph(c: &mut Criterion, name: &str, path: &Path, text: &str) {
    let registry = lathe_nodes::registry();
    let doc = GraphDoc::parse(path, text).expect("valid graph");
    let signal = harness::test_signal(2, SIGNAL_FRAMES);
    let mut group = c.benchmark_group(format!("graph/{name}"));
    for frames in BLOCKS {
        let options = CompileOptions::new(PrepareInfo::new(RATE_HZ, frames));
        let compiled = compile(&doc, &registry, &options).expect("compiles");
        let (_ctl, mut eng) = engine(compiled);
        let mut output = vec![vec![0.0f32; frames]; 2];
        let mut position = 0usize;
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_function(BenchmarkId::from_parameter(frames), |b| {
            b.iter(|| {
                let start = position % (SIGNAL_FRAMES - frames);
                let ins: [&[f32]; 2] = [
                    &signal[0][start..start + frames],
                    &signal[1][start..start + frames],
                ];
                let (l, r) = output.split_at_mut(1);
                let mut outs: [&mut [f32]; 2] = [&mut l[0], &mut r[0]];
                eng.process(&ins, &mut outs, frames);
                position += frames;
            })
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let master = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs/master.ron");
    let text = std::fs::read_to_string(&master).expect("graphs/master.ron is readable");
    bench_graph(c, "master", &master, &text);
    bench_graph(
        c,
        "gain_chain_100",
        Path::new("chain.ron"),
        &gain_chain(100),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
