//! Where the control loop publishes for browsers: one bounded queue per client, and the
//! latest graph, values and status a newly connected browser starts from. Publishing
//! never waits on a network: it only pushes onto queues under short locks. A client that
//! reads slowly loses meter frames (each queue keeps only the latest); one that falls
//! [`MAX_QUEUED`] state messages behind is dropped (the browser reconnects and starts
//! afresh from the snapshot).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// State messages a client may have waiting before it is dropped.
pub const MAX_QUEUED: usize = 256;
/// Browsers connected at once.
pub const MAX_CLIENTS: usize = 16;

/// What is waiting for one client.
#[derive(Default)]
struct Pending {
    /// Graph, values, messages, replies: all delivered, in order.
    state: VecDeque<Arc<str>>,
    /// The latest meter frame only.
    meters: Option<Arc<str>>,
    closed: bool,
}

/// One client's queue; its connection thread waits on it.
#[derive(Default)]
pub struct ClientQueue {
    pending: Mutex<Pending>,
    ready: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientQueue {
    /// Queues a state message; false when the client is too far behind (and now closed).
    pub fn push_state(&self, msg: Arc<str>) -> bool {
        let mut p = lock(&self.pending);
        if p.state.len() >= MAX_QUEUED {
            p.closed = true;
        } else {
            p.state.push_back(msg);
        }
        self.ready.notify_one();
        !p.closed
    }

    fn push_meters(&self, msg: Arc<str>) {
        lock(&self.pending).meters = Some(msg);
        self.ready.notify_one();
    }

    /// Marks the queue closed (the connection went away).
    pub fn close(&self) {
        lock(&self.pending).closed = true;
        self.ready.notify_one();
    }

    /// Takes what is waiting (state messages first, then the latest meter frame),
    /// waiting up to `wait` for something. `None` once closed.
    pub fn take(&self, wait: Duration) -> Option<Vec<Arc<str>>> {
        let mut p = lock(&self.pending);
        if p.state.is_empty() && p.meters.is_none() && !p.closed {
            p = self
                .ready
                .wait_timeout(p, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if p.closed {
            return None;
        }
        let mut out: Vec<Arc<str>> = p.state.drain(..).collect();
        out.extend(p.meters.take());
        Some(out)
    }
}

/// The latest of each kind of snapshot message.
#[derive(Default)]
struct Snapshot {
    graph: Option<Arc<str>>,
    values: Option<Arc<str>>,
    status: Option<Arc<str>>,
    server: Option<Arc<str>>,
}

/// Shared between the control loop (publisher) and the server threads.
#[derive(Default)]
pub struct Hub {
    clients: Mutex<Vec<Arc<ClientQueue>>>,
    snapshot: Mutex<Snapshot>,
}

/// Which snapshot a state message replaces.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Graph,
    Values,
    Status,
    /// Whether the audio server is there.
    Server,
    /// Not kept: a message, a reply.
    Event,
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Registers a new client, its queue primed with the snapshot. `None` when full.
    pub fn join(&self) -> Option<Arc<ClientQueue>> {
        let mut clients = lock(&self.clients);
        clients.retain(|c| !lock(&c.pending).closed);
        if clients.len() >= MAX_CLIENTS {
            return None;
        }
        let queue = Arc::new(ClientQueue::default());
        {
            let snap = lock(&self.snapshot);
            for msg in [&snap.graph, &snap.values, &snap.status, &snap.server]
                .into_iter()
                .flatten()
            {
                queue.push_state(msg.clone());
            }
        }
        clients.push(queue.clone());
        Some(queue)
    }

    /// Clients connected now.
    pub fn client_count(&self) -> usize {
        lock(&self.clients)
            .iter()
            .filter(|c| !lock(&c.pending).closed)
            .count()
    }

    /// Sends a state message to every client (and keeps it for new ones by `kind`).
    pub fn publish(&self, kind: Kind, msg: String) {
        let msg: Arc<str> = msg.into();
        {
            let mut snap = lock(&self.snapshot);
            match kind {
                Kind::Graph => snap.graph = Some(msg.clone()),
                Kind::Values => snap.values = Some(msg.clone()),
                Kind::Status => snap.status = Some(msg.clone()),
                Kind::Server => snap.server = Some(msg.clone()),
                Kind::Event => {}
            }
        }
        lock(&self.clients).retain(|c| c.push_state(msg.clone()));
    }

    /// Sends a meter frame to every client; a client still busy with the last one gets
    /// this one in its place.
    pub fn publish_meters(&self, msg: String) {
        let msg: Arc<str> = msg.into();
        for c in lock(&self.clients).iter() {
            c.push_meters(msg.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_clients_lose_meter_frames_and_state_is_kept_in_order() {
        let hub = Hub::new();
        hub.publish(Kind::Graph, "g1".into());
        let a = hub.join().unwrap();
        hub.publish(Kind::Values, "v1".into());
        for i in 0..10 {
            hub.publish_meters(format!("m{i}"));
        }
        let got: Vec<String> = a
            .take(Duration::ZERO)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, ["g1", "v1", "m9"]);
        // A late joiner starts from the latest snapshot.
        let b = hub.join().unwrap();
        let got: Vec<String> = b
            .take(Duration::ZERO)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, ["g1", "v1"]);
        // One that never reads is dropped after MAX_QUEUED state messages.
        for i in 0..=MAX_QUEUED {
            hub.publish(Kind::Event, format!("e{i}"));
            let _ = a.take(Duration::ZERO);
        }
        assert!(b.take(Duration::ZERO).is_none());
        assert_eq!(hub.client_count(), 1);
    }
}
