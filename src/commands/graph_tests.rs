//! Loading and rendering graphs as the commands do: latency compensation, `--set` values
//! resolved in one compile, and control tasks of a kind no host knows by name.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, ControlSurface, ControlTask, Io, NodeConfig, NodeKind,
    NodeSpec, ParamId, ParamSpec, ParamValue, PortSpec, Processor, TaskError,
};

use super::check::describe;
use super::{load_with, render_audio as render};
use crate::audio_io::Audio;
use crate::cli::ParamSet;
use crate::progress::Progress;

/// How many times [`CountedKind`] was built: one compile builds each node once.
static COUNTED_BUILDS: AtomicUsize = AtomicUsize::new(0);

/// A pure delay of [`DELAY_FRAMES`] on a stereo bus: latency that must be compensated.
const DELAY_FRAMES: usize = 100;

struct DelayKind;

impl NodeKind for DelayKind {
    fn name(&self) -> &'static str {
        "delay"
    }

    fn summary(&self) -> &'static str {
        "A fixed delay, for tests."
    }

    fn build(&self, _: &NodeConfig<'_>, _: &BuildContext<'_>) -> Result<BuiltNode, ConfigError> {
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: vec![PortSpec::new("in", 2)],
                outputs: vec![PortSpec::new("out", 2)],
                params: vec![ParamSpec::choice("mode", &["short", "long"], 0)],
                meters: vec![],
                latency_frames: DELAY_FRAMES,
            },
            processor: Box::new(DelayProcessor {
                lines: vec![vec![0.0; DELAY_FRAMES]; 2],
                pos: 0,
            }),
        })
    }
}

struct DelayProcessor {
    lines: Vec<Vec<f32>>,
    pos: usize,
}

impl Processor for DelayProcessor {
    fn set_param(&mut self, _: ParamId, _: f32) {}

    fn reset(&mut self) {
        self.lines.iter_mut().for_each(|l| l.fill(0.0));
        self.pos = 0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        for i in 0..io.frames {
            for (c, line) in self.lines.iter_mut().enumerate() {
                io.outputs[c][i] = line[self.pos];
                line[self.pos] = io.inputs[c][i];
            }
            self.pos = (self.pos + 1) % DELAY_FRAMES;
        }
    }
}

/// A graph mixing a delayed path with a dry one; the compiler delays the dry path.
fn graph_file(dir: &Path) -> PathBuf {
    let path = dir.join("parallel.ron");
    std::fs::write(
        &path,
        r#"(
            nodes: [(id: "late", kind: "delay"), (id: "dry", kind: "gain")],
            links: ["in -> late -> out", "in -> dry -> out"],
        )"#,
    )
    .expect("write graph");
    path
}

#[test]
fn render_compensates_latency_and_keeps_the_length() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = lathe_nodes::registry();
    registry.register(DelayKind);
    let path = graph_file(dir.path());
    for block in [1, 64, 4096] {
        let graph = load_with(&registry, &path, &[], 48_000.0, block).expect("compiles");
        assert_eq!(graph.latency_frames(), DELAY_FRAMES);
        let mut input = Audio::silence(48_000, 2, 1000);
        input.channels[0][10] = 0.25;
        input.channels[1][999] = 0.5;
        let rendered = render(graph, vec![input], &Progress::hidden());
        assert_eq!(rendered.latency_frames, DELAY_FRAMES);
        let out = &rendered.outputs[0];
        assert_eq!(out.frames(), 1000, "as long as the input");
        // Both paths land on the input's own frame and sum: aligned, not smeared.
        assert_eq!(out.channels[0][10], 0.5, "block {block}");
        assert_eq!(out.channels[1][999], 1.0, "the last frame is not cut off");
        let energy: f32 = out.channels.iter().flatten().map(|s| s.abs()).sum();
        assert_eq!(energy, 1.5, "nothing anywhere else");
    }
}

#[test]
fn choice_names_in_sets_resolve_to_their_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = lathe_nodes::registry();
    registry.register(DelayKind);
    let path = graph_file(dir.path());
    let choice = |name: &str| ParamSet {
        path: "late.mode".to_string(),
        value: ParamValue::Text(name.to_string()),
    };
    let graph = load_with(&registry, &path, &[choice("long")], 48_000.0, 64).expect("valid");
    assert!(
        describe(&graph).contains("late.mode = long"),
        "{}",
        describe(&graph)
    );
    let err =
        load_with(&registry, &path, &[choice("medium")], 48_000.0, 64).expect_err("not a choice");
    assert!(
        err.to_string()
            .contains("`medium` is not a choice of `late.mode`; allowed: short, long"),
        "{err}"
    );
}

#[test]
fn choice_names_in_sets_need_a_choice_param() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = lathe_nodes::registry();
    registry.register(DelayKind);
    let path = graph_file(dir.path());
    let set = |path: &str, value: ParamValue| ParamSet {
        path: path.to_string(),
        value,
    };
    let err = load_with(
        &registry,
        &path,
        &[set("dry.gain_db", ParamValue::Text("loud".into()))],
        48_000.0,
        64,
    )
    .expect_err("not a choice");
    assert!(
        err.to_string()
            .contains("`dry.gain_db` takes a number (-96 ..= 24), not a name")
    );
    let err = load_with(
        &registry,
        &path,
        &[set("dry.gian_db", ParamValue::Text("loud".into()))],
        48_000.0,
        64,
    )
    .expect_err("unknown");
    // The same message as for a number: the compiler resolves every override.
    assert!(
        err.to_string().contains(
            "--set: error: unknown param `dry.gian_db`\n  help: did you mean `dry.gain_db`?"
        ),
        "{err}"
    );
    let graph = load_with(
        &registry,
        &path,
        &[set("dry.bypass", ParamValue::Bool(true))],
        48_000.0,
        64,
    )
    .expect("toggle from a bool");
    assert!(describe(&graph).contains("dry.bypass = on"));
}

/// A kind with a choice param that counts its builds.
struct CountedKind;

impl NodeKind for CountedKind {
    fn name(&self) -> &'static str {
        "counted"
    }

    fn summary(&self) -> &'static str {
        "Passes audio through and counts its builds, for tests."
    }

    fn build(&self, _: &NodeConfig<'_>, _: &BuildContext<'_>) -> Result<BuiltNode, ConfigError> {
        COUNTED_BUILDS.fetch_add(1, Ordering::SeqCst);
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: vec![PortSpec::new("in", 2)],
                outputs: vec![PortSpec::new("out", 2)],
                params: vec![ParamSpec::choice("curve", &["soft", "hard", "brick"], 0)],
                meters: vec![],
                latency_frames: 0,
            },
            processor: Box::new(PassProcessor),
        })
    }
}

struct PassProcessor;

impl Processor for PassProcessor {
    fn set_param(&mut self, _: ParamId, _: f32) {}

    fn reset(&mut self) {}

    fn process(&mut self, io: &mut Io<'_>) {
        io.copy_through();
    }
}

#[test]
fn a_choice_name_set_compiles_the_graph_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("counted.ron");
    std::fs::write(
        &path,
        r#"(nodes: [(id: "shape", kind: "counted")], links: ["in -> shape -> out"])"#,
    )
    .expect("write graph");
    let mut registry = lathe_nodes::registry();
    registry.register(CountedKind);
    let sets = [ParamSet {
        path: "shape.curve".into(),
        value: ParamValue::from_text("brick").expect("a choice name"),
    }];
    let before = COUNTED_BUILDS.load(Ordering::SeqCst);
    let graph = load_with(&registry, &path, &sets, 48_000.0, 64).expect("valid");
    assert_eq!(
        COUNTED_BUILDS.load(Ordering::SeqCst) - before,
        1,
        "one compile"
    );
    assert_eq!(graph.info().nodes[0].values[0], 2.0);
    assert_eq!(
        graph.info().nodes[0].file_values[0],
        0.0,
        "the file's own value"
    );
    assert!(describe(&graph).contains("shape.curve = brick"));
}

/// A control kind no host knows by name: every `period` frames it lowers `dry.gain_db`
/// by 6 dB. Its node carries no audio.
struct StepperKind;

struct Stepper {
    period_frames: u64,
    steps: u32,
}

impl NodeKind for StepperKind {
    fn name(&self) -> &'static str {
        "stepper"
    }

    fn summary(&self) -> &'static str {
        "Steps a gain down at a control rate, for tests."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        self.build_with_control(config, ctx).map(|(node, _)| node)
    }

    fn build_with_control(
        &self,
        _: &NodeConfig<'_>,
        _: &BuildContext<'_>,
    ) -> Result<(BuiltNode, Option<Box<dyn ControlTask>>), ConfigError> {
        let node = BuiltNode {
            spec: NodeSpec::default(),
            processor: Box::new(PassProcessor),
        };
        let task = Stepper {
            period_frames: 300,
            steps: 0,
        };
        Ok((node, Some(Box::new(task))))
    }
}

impl ControlTask for Stepper {
    fn period_frames(&self) -> u64 {
        self.period_frames
    }

    fn tick(&mut self, _: u64, surface: &mut dyn ControlSurface) -> Result<(), TaskError> {
        surface.set_param("dry.gain_db", -6.0 * f64::from(self.steps))?;
        self.steps += 1;
        Ok(())
    }

    fn continues(&self, _: &dyn ControlTask) -> bool {
        false
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn control_tasks_of_any_kind_tick_at_exact_frames_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stepped.ron");
    std::fs::write(
        &path,
        r#"(
            nodes: [(id: "step", kind: "stepper"), (id: "dry", kind: "gain")],
            links: ["in -> dry -> out"],
        )"#,
    )
    .expect("write graph");
    let mut registry = lathe_nodes::registry();
    registry.register(StepperKind);
    let mut outputs = Vec::new();
    for block in [1, 64, 512] {
        let graph = load_with(&registry, &path, &[], 48_000.0, block).expect("compiles");
        let mut input = Audio::silence(48_000, 2, 1200);
        input.channels.iter_mut().flatten().for_each(|s| *s = 1.0);
        let rendered = render(graph, vec![input], &Progress::hidden());
        outputs.push(rendered.outputs[0].channels.clone());
    }
    assert_eq!(outputs[0], outputs[1], "the same at every block size");
    assert_eq!(outputs[0], outputs[2], "the same at every block size");
    // The gain is smoothed, so look at where each step starts to move the level.
    let left = &outputs[0][0];
    assert_eq!(left[299], 1.0, "no step before frame 300");
    assert!(left[300] < 1.0, "the step lands at frame 300");
    assert!(left[900] < left[600] && left[600] < left[300]);
}
