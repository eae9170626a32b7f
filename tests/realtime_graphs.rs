//! Every shipped graph, compiled with every node kind the binary knows, processes audio
//! without allocating, in steady state and across a hot swap to an edited version of
//! itself. (Each kind alone is checked by the node harness; this checks them wired
//! together by the real compiler, with the real executor.)

mod lv2_support;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count};
use lathe_engine::{CompileOptions, ControlSurface, GraphDoc, PrepareInfo, compile, engine};
use lv2_support::lv2_plugins_present;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const FRAMES: usize = 48_000;

fn noise(frames: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(747_796_405).wrapping_add(1);
    (0..frames)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32 - 0.5) * 0.8
        })
        .collect()
}

#[test]
fn shipped_graphs_process_without_allocating() {
    let registry = lathe_host::registry();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs");
    let mut graphs: Vec<_> = std::fs::read_dir(&dir)
        .expect("graphs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    graphs.sort();
    for path in graphs {
        let text = std::fs::read_to_string(&path).expect("readable");
        if !lv2_plugins_present(&path.display().to_string(), &text) {
            continue;
        }
        let doc = GraphDoc::load(&path).expect("shipped graphs parse");
        let options = CompileOptions::new(PrepareInfo::new(48_000.0, 256));
        let compiled = compile(&doc, &registry, &options).expect("shipped graphs compile");
        let (in_ch, out_ch) = (
            compiled.info.input_channels(),
            compiled.info.output_channels(),
        );
        let first_param = compiled.info.param_paths().into_iter().next();
        let (mut ctl, mut eng) = engine(compiled);
        let input: Vec<Vec<f32>> = (0..in_ch).map(|c| noise(FRAMES, c as u32 + 1)).collect();
        let mut output = vec![vec![0.0f32; FRAMES]; out_ch];
        // Flip one node's bypass, then swap to the same file: nodes move across and glide
        // back to the file's values.
        let swapped = compile(&doc, &registry, &options).expect("compiles again");
        if let Some(path) = &first_param {
            let node = path.split('.').next().expect("a node id");
            ctl.set_param(&format!("{node}.bypass"), 1.0)
                .expect("every node has bypass");
        }
        ctl.swap(swapped).expect("same buses");
        reset_violation_count();
        assert_no_alloc(|| drop(std::hint::black_box(vec![0u8; 16])));
        assert!(violation_count() > 0, "the allocation checker is installed");
        reset_violation_count();
        let ins: Vec<&[f32]> = input.iter().map(Vec::as_slice).collect();
        let mut outs: Vec<&mut [f32]> = output.iter_mut().map(Vec::as_mut_slice).collect();
        assert_no_alloc(|| {
            for block in [256, 64, 1, 1000] {
                eng.process(&ins, &mut outs, block);
            }
            eng.process(&ins, &mut outs, FRAMES);
        });
        let count = violation_count();
        assert_eq!(
            count,
            0,
            "{}: {count} allocations on the audio path",
            path.display()
        );
        assert!(output.iter().flatten().all(|x| x.is_finite()));
        assert_eq!(ctl.collect_garbage(), 1);
    }
}
