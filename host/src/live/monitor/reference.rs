//! The reference in the monitor section, audio half: a commercial master (or any file)
//! played in a loop in place of the graph's output while `monitor ref` is on, at the
//! loudness of the processed output, faded in and out like every monitor switch.
//!
//! Loudness: the reference is measured once, over the whole file (BS.1770 integrated
//! loudness, gated), and compared with the processed output's short-term loudness (3 s)
//! as the monitor hears it. The integrated figure is a constant, so the reference is
//! played at one steady gain and keeps its own dynamics (a quiet verse stays quieter
//! than its chorus), which is what a mastering engineer compares a master against.
//! The gain is chosen while the mix is heard and held while the reference plays, so an
//! unheard mix getting louder or quieter never rides the reference. As with `ab`, the
//! louder side is turned down, never the quieter one up: nothing gains level it could
//! clip with.
//!
//! Hand-over: decoded references arrive through an rtrb queue as `Arc<RefAudio>`; the
//! one replaced goes back through a second queue so that its memory is freed on the
//! control thread. The audio side never decodes, allocates, locks or waits. Each
//! [`RefPlayer`] (one per monitor, so one per engine) meets the control side through the
//! [`RefLink`] in the monitor controls: it leaves its queue ends there when it is made
//! (off the audio thread), and the control side picks them up.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{MATCH_RAMP_MS, MonitorControls, Ramp, SWITCH_RAMP_MS};

/// References in flight to one player (a swap waits for the fade-out before the next).
const QUEUE: usize = 4;
/// Below this a side is treated as silent and the reference is left unmatched.
const MATCH_GATE_LUFS: f32 = -70.0;

/// A decoded reference at the run's rate, laid out for the monitor's channels.
#[derive(Debug)]
pub struct RefAudio {
    /// The file it came from, as given.
    pub name: String,
    pub sample_rate_hz: u32,
    /// One buffer per monitor channel, all `frames` long.
    pub channels: Box<[Box<[f32]>]>,
    /// Integrated loudness of what is held (LUFS; -inf for silence).
    pub integrated_lufs: f32,
    /// Where playback is, in frames: written by the audio side, so a reference resumes
    /// where it left off, each at its own place.
    position: AtomicUsize,
}

impl RefAudio {
    pub fn new(
        name: String,
        sample_rate_hz: u32,
        channels: Box<[Box<[f32]>]>,
        integrated_lufs: f32,
    ) -> Self {
        Self {
            name,
            sample_rate_hz,
            channels,
            integrated_lufs,
            position: AtomicUsize::new(0),
        }
    }

    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, |c| c.len())
    }

    /// Where playback of this reference is, in frames from its start.
    pub fn position(&self) -> usize {
        self.position.load(Ordering::Relaxed)
    }

    /// Bytes of samples held.
    pub fn bytes(&self) -> usize {
        self.frames() * self.channels.len() * std::mem::size_of::<f32>()
    }
}

/// The control side's ends of a player's queues.
pub struct DeckEnds {
    /// The reference to play next (`None`: none).
    pub send: rtrb::Producer<Option<Arc<RefAudio>>>,
    /// References the player has let go of, to be dropped here.
    pub returned: rtrb::Consumer<Arc<RefAudio>>,
    /// The rate of the player's monitor.
    pub sample_rate_hz: u32,
    /// The monitor's channels (what a reference is laid out for).
    pub channels: usize,
}

/// Where a new player leaves its queue ends for the control side, and the `ref` switch.
#[derive(Default)]
pub struct RefLink {
    /// Hear the reference instead of the graph's output.
    pub on: AtomicBool,
    /// Ends of the newest player, until the control side takes them.
    fresh: Mutex<Option<DeckEnds>>,
    /// The gain the reference is played at (dB, f32 bits), for the console.
    gain_db: AtomicU32,
}

impl std::fmt::Debug for RefLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefLink")
            .field("on", &self.on.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RefLink {
    /// The ends a player made since the last call (control side).
    pub fn take_fresh(&self) -> Option<DeckEnds> {
        self.fresh.lock().ok()?.take()
    }

    /// The gain the reference is heard at now, in dB (0 when unmatched).
    pub fn gain_db(&self) -> f32 {
        f32::from_bits(self.gain_db.load(Ordering::Relaxed))
    }
}

/// The audio half: plays the current reference into the monitor's signal.
#[derive(Debug)]
pub struct RefPlayer {
    controls: Arc<MonitorControls>,
    incoming: rtrb::Consumer<Option<Arc<RefAudio>>>,
    outgoing: rtrb::Producer<Arc<RefAudio>>,
    /// A replaced reference waiting for room in `outgoing`.
    pending_old: Option<Arc<RefAudio>>,
    current: Option<Arc<RefAudio>>,
    position: usize,
    sample_rate_hz: u32,
    /// 0: the mix is heard, 1: the reference.
    fade: Ramp,
    ref_gain: Ramp,
    mix_gain: Ramp,
    /// Processed minus reference loudness the gains were last set from (LU).
    diff_db: Option<f32>,
    /// The current reference has been switched on: only then does it take part in the
    /// matching (one loaded but never heard leaves the mix alone).
    engaged: bool,
}

impl RefPlayer {
    /// A player for a monitor of `channels` channels at `sample_rate_hz`; leaves its
    /// queue ends in `controls`' link for the control side. Not real-time: allocates.
    pub fn new(controls: Arc<MonitorControls>, channels: usize, sample_rate_hz: f64) -> Self {
        let (send, incoming) = rtrb::RingBuffer::new(QUEUE);
        let (outgoing, returned) = rtrb::RingBuffer::new(QUEUE + 1);
        let rate = sample_rate_hz.round() as u32;
        if let Ok(mut fresh) = controls.reference.fresh.lock() {
            *fresh = Some(DeckEnds {
                send,
                returned,
                sample_rate_hz: rate,
                channels,
            });
        }
        let switch_frames = (SWITCH_RAMP_MS * 0.001 * sample_rate_hz).round() as usize;
        let match_frames = (MATCH_RAMP_MS * 0.001 * sample_rate_hz).round() as usize;
        Self {
            controls,
            incoming,
            outgoing,
            pending_old: None,
            current: None,
            position: 0,
            sample_rate_hz: rate,
            fade: Ramp::new(0.0, switch_frames),
            ref_gain: Ramp::new(1.0, match_frames),
            mix_gain: Ramp::new(1.0, match_frames),
            diff_db: None,
            engaged: false,
        }
    }

    /// Once per block, before [`RefPlayer::mix`]: takes a waiting reference (once the
    /// current one has faded out) and sets the fade and gain targets. `matching` is the
    /// monitor's `match` switch, `mix_lufs` the short-term loudness of the processed
    /// output as the monitor plays it (after its own A/B matching). Real-time safe.
    pub fn begin_block(&mut self, matching: bool, mix_lufs: f32) {
        self.give_back_old();
        if self.fade.value == 0.0 && self.pending_old.is_none() {
            self.take_waiting();
        }
        let link = &self.controls.reference;
        let waiting = self.incoming.slots() > 0;
        let on = link.on.load(Ordering::Relaxed) && self.current.is_some() && !waiting;
        self.fade.set_target(if on { 1.0 } else { 0.0 });
        self.engaged |= on;
        let ref_lufs = self
            .current
            .as_ref()
            .map_or(f32::NEG_INFINITY, |r| r.integrated_lufs);
        // Chosen while the mix is heard, held while the reference plays.
        if (self.fade.value == 0.0 || self.diff_db.is_none())
            && mix_lufs > MATCH_GATE_LUFS
            && ref_lufs > MATCH_GATE_LUFS
        {
            self.diff_db = Some(mix_lufs - ref_lufs);
        }
        let diff = if matching && self.engaged {
            self.diff_db.unwrap_or(0.0)
        } else {
            0.0
        };
        let ref_target_db = diff.min(0.0);
        self.ref_gain
            .set_target(lathe_engine::db_to_gain(ref_target_db));
        self.mix_gain
            .set_target(lathe_engine::db_to_gain(-diff.max(0.0)));
        // A side nobody hears jumps to its gain, so it is matched from its first sample.
        if self.fade.value == 0.0 {
            self.ref_gain.snap(self.ref_gain.target);
        }
        if self.fade.value == 1.0 {
            self.mix_gain.snap(self.mix_gain.target);
        }
        link.gain_db
            .store(ref_target_db.to_bits(), Ordering::Relaxed);
    }

    /// Puts the reference in place of `frame` (one sample per monitor channel) as far
    /// as the fade is in, and applies the mix's matching gain. Real-time safe.
    #[inline]
    pub fn mix(&mut self, frame: &mut [f32]) {
        let (fade, gm, gr) = (self.fade.next(), self.mix_gain.next(), self.ref_gain.next());
        if fade == 0.0 {
            if gm != 1.0 {
                frame.iter_mut().for_each(|x| *x *= gm);
            }
            return;
        }
        let Some(track) = &self.current else {
            return;
        };
        let at = self.position;
        for (c, x) in frame.iter_mut().enumerate() {
            let r = track
                .channels
                .get(c)
                .and_then(|ch| ch.get(at))
                .copied()
                .unwrap_or(0.0);
            *x = *x * gm * (1.0 - fade) + r * gr * fade;
        }
        self.position = at + 1;
        if self.position >= track.frames() {
            self.position = 0;
        }
    }

    /// After the block: notes where playback is, for the control side.
    pub fn end_block(&self) {
        if let Some(track) = &self.current {
            track.position.store(self.position, Ordering::Relaxed);
        }
    }

    fn take_waiting(&mut self) {
        let Ok(next) = self.incoming.pop() else {
            return;
        };
        let next = match next {
            // Made for another rate (the server's changed since): given back unplayed.
            Some(r) if r.sample_rate_hz != self.sample_rate_hz => {
                self.pending_old = Some(r);
                self.give_back_old();
                return;
            }
            next => next,
        };
        self.position = next
            .as_ref()
            .map_or(0, |r| r.position().min(r.frames().saturating_sub(1)));
        let old = std::mem::replace(&mut self.current, next);
        self.pending_old = old;
        // A new reference is matched afresh.
        self.diff_db = None;
        self.engaged = false;
        self.give_back_old();
    }

    fn give_back_old(&mut self) {
        if let Some(old) = self.pending_old.take()
            && let Err(rtrb::PushError::Full(old)) = self.outgoing.push(old)
        {
            self.pending_old = Some(old);
        }
    }
}
