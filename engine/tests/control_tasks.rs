//! The control-task runner every host uses: ticks on each task's own grid of absolute
//! frames, in schedule order, late calls, failures reported once, state carried over a
//! reload; and the offline driver splitting engine calls at those ticks.

use std::sync::{Arc, Mutex};

use lathe_engine::{ControlError, ControlSurface, ControlTask, ControlTasks, TaskError};

/// A surface that records nothing: the tasks below log their own ticks.
struct NullSurface;

impl ControlSurface for NullSurface {
    fn meter(&self, path: &str) -> Result<f32, ControlError> {
        Err(ControlError::UnknownMeter {
            path: path.into(),
            suggestion: None,
        })
    }

    fn param(&self, path: &str) -> Result<f32, ControlError> {
        Err(ControlError::UnknownParam {
            path: path.into(),
            suggestion: None,
        })
    }

    fn set_param(&mut self, path: &str, _: f64) -> Result<f32, ControlError> {
        self.param(path)
    }

    fn sample_rate_hz(&self) -> f64 {
        48_000.0
    }

    fn position_frames(&self) -> u64 {
        0
    }
}

type Log = Arc<Mutex<Vec<(&'static str, u64)>>>;

/// Logs `(name, frame)` at each tick; fails at `fail_at` ticks; `ticks_left` (if some)
/// makes it want no ticks once spent.
struct Logger {
    name: &'static str,
    period_frames: u64,
    log: Log,
    fail_at: Option<u64>,
    ticks_left: Option<u32>,
    generation: u32,
}

impl Logger {
    fn new(name: &'static str, period_frames: u64, log: &Log) -> Self {
        Self {
            name,
            period_frames,
            log: log.clone(),
            fail_at: None,
            ticks_left: None,
            generation: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0} failed at frame {1}")]
struct Failed(&'static str, u64);

impl ControlTask for Logger {
    fn period_frames(&self) -> u64 {
        self.period_frames
    }

    fn wants_ticks(&self) -> bool {
        self.ticks_left != Some(0)
    }

    fn tick(&mut self, position_frames: u64, _: &mut dyn ControlSurface) -> Result<(), TaskError> {
        self.log.lock().unwrap().push((self.name, position_frames));
        if let Some(left) = self.ticks_left.as_mut() {
            *left -= 1;
        }
        if self.fail_at == Some(position_frames) {
            return Err(Box::new(Failed(self.name, position_frames)));
        }
        Ok(())
    }

    fn continues(&self, old: &dyn ControlTask) -> bool {
        old.as_any().downcast_ref::<Logger>().is_some_and(|o| {
            o.period_frames == self.period_frames && o.generation == self.generation
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Drives `tasks` like an offline host over `0..end`: split at every due tick.
fn drive(tasks: &mut ControlTasks, end: u64) {
    let mut pos = 0;
    while pos < end {
        if tasks.next_tick_frame().is_some_and(|f| f <= pos) {
            tasks.tick_due(pos, &mut NullSurface);
        }
        pos = tasks.next_tick_frame().map_or(end, |f| f.min(end));
    }
}

fn taken(log: &Log) -> Vec<(&'static str, u64)> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn tasks_tick_on_their_grids_in_schedule_order() {
    let log = Log::default();
    let mut tasks = ControlTasks::new();
    tasks.push("slow", "logger", Box::new(Logger::new("slow", 300, &log)));
    tasks.push("fast", "logger", Box::new(Logger::new("fast", 200, &log)));
    assert_eq!(tasks.next_tick_frame(), Some(0));
    drive(&mut tasks, 1000);
    assert_eq!(
        taken(&log),
        vec![
            ("slow", 0),
            ("fast", 0),
            ("fast", 200),
            ("slow", 300),
            ("fast", 400),
            ("slow", 600),
            ("fast", 600),
            ("fast", 800),
            ("slow", 900),
        ],
        "exact frames; at a shared frame, schedule order"
    );
    assert_eq!(tasks.next_tick_frame(), Some(1000));
}

#[test]
fn a_late_call_ticks_each_due_task_once_then_keeps_to_the_grid() {
    let log = Log::default();
    let mut tasks = ControlTasks::new();
    tasks.push("a", "logger", Box::new(Logger::new("a", 100, &log)));
    tasks.push("b", "logger", Box::new(Logger::new("b", 250, &log)));
    tasks.tick_due(0, &mut NullSurface);
    // Woken up late, at 730: a missed 100..700, b missed 250 and 500.
    tasks.tick_due(730, &mut NullSurface);
    assert_eq!(
        taken(&log),
        vec![("a", 0), ("b", 0), ("a", 730), ("b", 730)]
    );
    assert_eq!(tasks.next_tick_frame(), Some(750), "b's next grid frame");
    tasks.tick_due(760, &mut NullSurface);
    assert_eq!(taken(&log), vec![("b", 760)]);
    assert_eq!(tasks.next_tick_frame(), Some(800), "a's next grid frame");
    tasks.tick_due(799, &mut NullSurface);
    assert!(taken(&log).is_empty(), "nothing is due before its frame");
}

#[test]
fn a_failing_task_is_reported_once_and_stopped_others_go_on() {
    let log = Log::default();
    let mut tasks = ControlTasks::new();
    let mut failing = Logger::new("bad", 100, &log);
    failing.fail_at = Some(200);
    tasks.push("bad", "logger", Box::new(failing));
    tasks.push("good", "logger", Box::new(Logger::new("good", 100, &log)));
    drive(&mut tasks, 500);
    let reports = tasks.take_reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].node_id, "bad");
    assert_eq!(reports[0].kind, "logger");
    assert_eq!(reports[0].position_frames, 200);
    assert_eq!(reports[0].to_string(), "bad failed at frame 200");
    assert!(tasks.take_reports().is_empty(), "reported once");
    assert!(tasks.is_stopped("bad") && !tasks.is_stopped("good"));
    let bad_ticks: Vec<u64> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| *n == "bad")
        .map(|(_, f)| *f)
        .collect();
    assert_eq!(bad_ticks, vec![0, 100, 200]);
    assert_eq!(tasks.next_tick_frame(), Some(500), "the good one goes on");
}

#[test]
fn a_task_done_with_ticks_is_left_alone() {
    let log = Log::default();
    let mut tasks = ControlTasks::new();
    let mut once = Logger::new("once", 10, &log);
    once.ticks_left = Some(1);
    tasks.push("once", "logger", Box::new(once));
    drive(&mut tasks, 100);
    assert_eq!(taken(&log), vec![("once", 0)]);
    assert_eq!(tasks.next_tick_frame(), None);
}

#[test]
fn reload_keeps_the_state_of_unchanged_tasks_only() {
    let log = Log::default();
    let mut old = ControlTasks::new();
    old.push("kept", "logger", Box::new(Logger::new("kept", 100, &log)));
    let mut changed = Logger::new("changed", 100, &log);
    changed.fail_at = Some(0);
    old.push("changed", "logger", Box::new(changed));
    old.tick_due(0, &mut NullSurface);
    old.tick_due(150, &mut NullSurface);
    assert!(old.is_stopped("changed"));

    let mut new = ControlTasks::new();
    new.push("kept", "logger", Box::new(Logger::new("kept", 100, &log)));
    let mut edited = Logger::new("changed", 100, &log);
    edited.generation = 1;
    new.push("changed", "logger", Box::new(edited));
    new.push("added", "logger", Box::new(Logger::new("added", 100, &log)));
    assert_eq!(new.adopt_state(old), vec!["kept".to_string()]);
    assert!(!new.is_stopped("changed"), "an edited task starts afresh");
    taken(&log);
    new.tick_due(160, &mut NullSurface);
    // `kept` is on its old grid (next at 200): not due; the fresh ones are due at once.
    assert_eq!(taken(&log), vec![("changed", 160), ("added", 160)]);
    new.tick_due(200, &mut NullSurface);
    assert_eq!(
        taken(&log),
        vec![("kept", 200), ("changed", 200), ("added", 200)]
    );
}

mod offline_driver {
    use lathe_engine::offline::{
        CallProcessor, NoSplits, OfflineRun, SplitPoints, render_compensated,
    };

    /// Records each call and writes its position into the output.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<(u64, usize)>,
    }

    impl CallProcessor for Recorder {
        fn process(
            &mut self,
            pos: u64,
            frames: usize,
            inputs: &[&[f32]],
            outputs: &mut [&mut [f32]],
        ) {
            self.calls.push((pos, frames));
            for (out, inp) in outputs.iter_mut().zip(inputs) {
                out[..frames].copy_from_slice(&inp[..frames]);
            }
        }
    }

    /// Split points at fixed frames; counts how often it was asked.
    struct At(Vec<u64>, usize);

    impl SplitPoints<Recorder> for At {
        fn due(&mut self, pos: u64, _: &mut Recorder) -> Option<u64> {
            self.1 += 1;
            self.0.iter().copied().find(|&f| f > pos)
        }
    }

    #[test]
    fn calls_end_at_split_points_and_at_the_call_size() {
        let mut run = OfflineRun::new(Recorder::default(), At(vec![5, 12], 0), 8);
        let input = vec![vec![1.0f32; 20]];
        let mut output = vec![vec![0.0f32; 20]];
        let mut lengths = Vec::new();
        run.run(&input, &mut output, 20, |n| lengths.push(n));
        assert_eq!(run.processor.calls, vec![(0, 5), (5, 7), (12, 8)]);
        assert_eq!(lengths, vec![5, 7, 8]);
        assert_eq!(run.splits.1, 3, "asked once per call");
        assert_eq!(output, input);
    }

    #[test]
    fn streaming_makes_the_calls_a_whole_run_makes() {
        let mut whole = OfflineRun::new(Recorder::default(), At(vec![3, 4, 30], 0), 16);
        whole.run(&[vec![0.0f32; 40]], &mut [vec![0.0f32; 40]], 40, |_| {});
        let mut streamed = OfflineRun::new(Recorder::default(), At(vec![3, 4, 30], 0), 16);
        let mut left = 40;
        while left > 0 {
            let n = streamed.next_call_frames(left);
            let input = vec![0.0f32; n];
            let mut output = vec![0.0f32; n];
            streamed.process(n, &[input.as_slice()], &mut [output.as_mut_slice()]);
            left -= n;
        }
        assert_eq!(whole.processor.calls, streamed.processor.calls);
    }

    #[test]
    fn latency_is_compensated_by_padding_and_dropping() {
        /// Delays by 3 frames.
        struct Late(Vec<f32>);
        impl CallProcessor for Late {
            fn process(
                &mut self,
                _: u64,
                frames: usize,
                inputs: &[&[f32]],
                outputs: &mut [&mut [f32]],
            ) {
                for i in 0..frames {
                    self.0.push(inputs[0][i]);
                    outputs[0][i] = if self.0.len() > 3 {
                        self.0[self.0.len() - 4]
                    } else {
                        0.0
                    };
                }
            }
        }
        let mut run = OfflineRun::new(Late(Vec::new()), NoSplits, 2);
        let input = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0]];
        let out = render_compensated(&mut run, input.clone(), 5, 3, 1, |_| {});
        assert_eq!(out, input, "aligned with the input and as long");
    }
}
