//! Executor overhead: a chain of 100 `gain` nodes against the same arithmetic done in a
//! plain loop. The difference divided by 100 is what the engine costs per node per block
//! (schedule walk, slice setup, bypass check, non-finite guard).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lathe_engine::{CompileOptions, GraphDoc, PrepareInfo, compile, engine};

const NODES: usize = 100;
const RATE_HZ: f64 = 48_000.0;

fn chain_graph() -> String {
    let nodes: Vec<String> = (1..=NODES)
        .map(|i| format!("(id: \"g{i}\", kind: \"gain\", params: {{\"gain_db\": -0.01}})"))
        .collect();
    let chain: Vec<String> = (1..=NODES).map(|i| format!("g{i}")).collect();
    format!(
        "(nodes: [{}], links: [\"in -> {} -> out\"])",
        nodes.join(", "),
        chain.join(" -> ")
    )
}

fn bench(c: &mut Criterion) {
    let registry = lathe_nodes::registry();
    let text = chain_graph();
    let doc = GraphDoc::parse(std::path::Path::new("chain.ron"), &text).expect("valid graph");
    let mut group = c.benchmark_group("gain_chain_100");
    for frames in [64usize, 256, 1024] {
        let options = CompileOptions::new(PrepareInfo::new(RATE_HZ, frames));
        let compiled = compile(&doc, &registry, &options).expect("compiles");
        let (_ctl, mut eng) = engine(compiled);
        let input = vec![vec![0.25f32; frames]; 2];
        let mut output = vec![vec![0.0f32; frames]; 2];
        group.bench_with_input(BenchmarkId::new("engine", frames), &frames, |b, &n| {
            b.iter(|| {
                let ins: [&[f32]; 2] = [&input[0], &input[1]];
                let (l, r) = output.split_at_mut(1);
                let mut outs: [&mut [f32]; 2] = [&mut l[0], &mut r[0]];
                eng.process(&ins, &mut outs, n);
            })
        });
        // The same work without an engine: copy the input, then 100 passes of a gain over
        // two channels (restarting from the input each time keeps values out of denormals).
        let mut bufs = vec![vec![0.25f32; frames]; 2];
        let g = 10f32.powf(-0.01 / 20.0);
        group.bench_with_input(BenchmarkId::new("plain_loop", frames), &frames, |b, _| {
            b.iter(|| {
                for (buf, inp) in bufs.iter_mut().zip(&input) {
                    buf.copy_from_slice(inp);
                }
                for _ in 0..NODES {
                    for ch in bufs.iter_mut() {
                        for x in ch.iter_mut() {
                            *x *= g;
                        }
                    }
                }
                std::hint::black_box(&bufs);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
