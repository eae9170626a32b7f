//! A live session on the in-process backend, driven from a test: the session runs on a
//! control thread of its own (as `lathe run` runs it), console lines go in as events and
//! their answers are awaited, and the test plays the audio through the driver. Built only
//! with the `harness` feature, which this workspace's tests turn on.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use lathe_engine::GraphDoc;

use super::{
    Answer, Backend, ControlLoop, Ending, Event, InProcessBackend, InProcessDriver, Message,
    Messages, Reply, Session, console,
};

/// How long a console command may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A running session. `S` is what the test's setup returned on the control thread.
pub struct TestRun<S> {
    pub events: Sender<Event>,
    pub messages: Receiver<Message>,
    pub driver: InProcessDriver,
    /// What `setup` returned (an OSC address, the banner, ...).
    pub setup: S,
    control: Option<JoinHandle<(Ending, String)>>,
}

impl<S: Send + 'static> TestRun<S> {
    /// Starts `graph` on an in-process client `name` at `rate_hz` with `period_frames`,
    /// calls `setup` on the started session (watch the file, listen for OSC, ...) and
    /// runs it. Panics when the graph does not load or start: the test is wrong then.
    pub fn start(
        name: &str,
        graph: &Path,
        rate_hz: u32,
        period_frames: u32,
        setup: impl FnOnce(&mut Session<InProcessBackend>) -> S + Send + 'static,
    ) -> TestRun<S> {
        let (backend, driver) = InProcessBackend::new(name, rate_hz, period_frames);
        let (msg_tx, messages) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let path = graph.to_path_buf();
        let control = std::thread::spawn(move || {
            let doc = GraphDoc::load(&path).expect("graph loads");
            let mut session = Session::start(
                &path,
                doc,
                BTreeMap::new(),
                Messages::Channel(msg_tx),
                || Ok(backend),
            )
            .unwrap_or_else(|e| panic!("start: {e}"));
            let made = setup(&mut session);
            ready_tx.send((session.events(), made)).expect("test waits");
            let (ending, control) = session.run();
            let summary = control.summary();
            let ControlLoop { backend, .. } = control;
            backend.stop(ending == Ending::ServerGone);
            (ending, summary)
        });
        let (events, setup) = ready.recv().expect("the run starts");
        TestRun {
            events,
            messages,
            driver,
            setup,
            control: Some(control),
        }
    }

    /// Sends a console line and waits for its answer.
    pub fn cmd(&self, line: &str) -> Reply {
        let cmd = console::parse(line)
            .unwrap_or_else(|e| panic!("`{line}`: {e}"))
            .expect("a command");
        self.send(cmd)
    }

    /// Sends a parsed command and waits for its answer.
    pub fn send(&self, cmd: console::Command) -> Reply {
        let (tx, rx) = mpsc::channel();
        self.events
            .send(Event::Command {
                cmd,
                reply: Some(tx),
            })
            .expect("control loop running");
        rx.recv_timeout(ANSWER_TIMEOUT).expect("an answer")
    }

    /// The text a console line answers with; panics on anything else.
    pub fn text(&self, line: &str) -> String {
        match self.cmd(line) {
            Ok(Answer::Text(t)) => t,
            other => panic!("`{line}`: {other:?}"),
        }
    }

    /// Waits (up to 5 s) for the message that a reload took effect; panics on an error
    /// message before it.
    pub fn wait_for_reload(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let m = self
                .messages
                .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
                .expect("a reload message");
            assert!(!m.error, "{}", m.text);
            if m.text.starts_with("reloaded") {
                return;
            }
        }
    }

    /// `quit`, then waits for the control loop: how it ended and its summary.
    pub fn quit(&mut self) -> (Ending, String) {
        assert_eq!(self.cmd("quit"), Ok(Answer::Quit));
        self.join()
    }

    /// Waits for the control loop to end by itself: how it ended and its summary.
    pub fn join(&mut self) -> (Ending, String) {
        self.control
            .take()
            .expect("running")
            .join()
            .expect("the control loop ends cleanly")
    }
}
