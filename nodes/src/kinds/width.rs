//! `width`: stereo image of a stereo bus, with bass mono, done in mid/side.
//!
//! The side signal `S = (L - R) / 2` is scaled by `width_pct / 100` and by
//! `side_gain_db`; the mid `M = (L + R) / 2` is untouched, so a mono fold-down of the
//! output equals that of the input. Bass mono removes the side below `bass_mono_hz` with
//! the high band of a Linkwitz-Riley 24 dB/oct split, and passes the mid through the
//! split's all-pass so that above the split mid and side keep their phase relation
//! (left and right are the all-passed input there). Turning bass mono on or off
//! crossfades between the plain and the filtered paths over the smoothing time.
//!
//! Stereo in and out, no config. Params ([`WidthParam`], ranges in `lathe nodes width`):
//! `width_pct` (0 = mono, 100 = unchanged, 200 = side doubled), `side_gain_db` (a further
//! gain on the side), `bass_mono_hz` (0 = off, non-zero values below 20 Hz act as 20).
//! Latency 0. Allocates nothing after build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamId, ParamTable, Processor, Unit, db_to_gain_f64, params,
};

use crate::bus::NoConfig;
use crate::dsp::biquad::flush_state;
use crate::dsp::coef_grid::{COEF_GRID_FRAMES, grid_segment};
use crate::dsp::linkwitz_riley::{AllpassState, LrSplit, LrSplitState, Slope};

/// Lowest bass mono split; smaller non-zero values act as this.
pub const MIN_BASS_MONO_HZ: f32 = 20.0;
/// Highest bass mono split.
pub const MAX_BASS_MONO_HZ: f32 = 500.0;

params! {
    /// The params of `width`.
    pub enum WidthParam {
        WidthPct = ParamDecl::new("width_pct", Unit::Percent, 0.0, 200.0, 100.0)
            .doc("Side level: 0 = mono, 100 = unchanged, 200 = doubled."),
        SideGainDb = ParamDecl::new("side_gain_db", Unit::Db, -24.0, 12.0, 0.0)
            .doc("Extra gain on the side signal."),
        BassMonoHz = ParamDecl::new("bass_mono_hz", Unit::Hz, 0.0, MAX_BASS_MONO_HZ, 0.0)
            .doc("Side removed below this frequency (LR4); 0 = off."),
    }
}

pub struct WidthKind;

impl NodeKind for WidthKind {
    fn name(&self) -> &'static str {
        "width"
    }

    fn summary(&self) -> &'static str {
        "Stereo width in mid/side: width, side gain and bass mono (LR4 on the side)."
    }

    fn doc(&self) -> &'static str {
        "width: stereo image of a stereo bus (mid untouched, side scaled).\n\
         Ports: in `in` (2), out `out` (2). No config.\n\
         Params: width_pct 0 (mono) .. 100 (unchanged) .. 200; side_gain_db; bass_mono_hz\n\
         0 (off) or 20..: side removed below it by an LR4 high-pass, mid through the\n\
         matching all-pass; switching it crossfades over the param's smoothing time.\n\
         Latency 0."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let _: NoConfig = config.parse()?;
        let rate = ctx.prepare.sample_rate_hz;
        // Bass mono ramps its on/off amount and its frequency (in log2) over its own
        // smoothing time; neither is the param itself.
        let bass_ms = WidthParam::BassMonoHz.decl().smoothing_ms;
        let processor = WidthProcessor {
            rate,
            width_pct: WidthParam::WidthPct.smoother(rate),
            side_gain_db: WidthParam::SideGainDb.smoother(rate),
            side_gain: 1.0,
            bass_amount: LinearSmoother::new(0.0, bass_ms, rate),
            bass_log2_hz: LinearSmoother::new(MIN_BASS_MONO_HZ.log2(), bass_ms, rate),
            designed_hz: MIN_BASS_MONO_HZ,
            split: LrSplit::new(Slope::Lr4, MIN_BASS_MONO_HZ.into(), rate),
            side_state: LrSplitState::default(),
            mid_state: AllpassState::default(),
            filters_clear: true,
        };
        Ok(BuiltNode {
            spec: NodeSpec::in_out(2).with_params(WidthParam::specs()),
            processor: Box::new(processor),
        })
    }
}

pub struct WidthProcessor {
    rate: f64,
    width_pct: LinearSmoother,
    side_gain_db: LinearSmoother,
    /// Width x side gain, linear, while both are steady.
    side_gain: f64,
    /// 0 = bass mono off, 1 = on; ramps to crossfade.
    bass_amount: LinearSmoother,
    bass_log2_hz: LinearSmoother,
    designed_hz: f32,
    split: LrSplit,
    side_state: LrSplitState,
    mid_state: AllpassState,
    /// The filter memories are zero (bass mono fully off).
    filters_clear: bool,
}

impl WidthProcessor {
    fn bass_off(&self) -> bool {
        self.bass_amount.value() == 0.0 && !self.bass_amount.is_smoothing()
    }

    fn steady_side_gain(&self) -> f64 {
        f64::from(self.width_pct.value()) * 0.01 * db_to_gain_f64(self.side_gain_db.value().into())
    }

    /// No param ramps, the bass split designed for its frequency, and bass mono off with
    /// its filters cleared: the per-frame path would only scale the side.
    fn plain_and_steady(&self) -> bool {
        !(self.width_pct.is_smoothing()
            || self.side_gain_db.is_smoothing()
            || self.bass_amount.is_smoothing()
            || self.bass_log2_hz.is_smoothing())
            && self.bass_amount.value() == 0.0
            && self.filters_clear
            && self.bass_log2_hz.value().exp2() == self.designed_hz
    }

    fn on_grid(&mut self) {
        let hz = self.bass_log2_hz.value().exp2();
        if hz != self.designed_hz {
            self.designed_hz = hz;
            self.split = LrSplit::new(Slope::Lr4, hz.into(), self.rate);
        }
        self.side_state.flush();
        self.mid_state.iter_mut().for_each(flush_state);
    }
}

impl Processor for WidthProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        match WidthParam::from_id(id) {
            Some(WidthParam::WidthPct) => self.width_pct.set_target(value),
            Some(WidthParam::SideGainDb) => self.side_gain_db.set_target(value),
            Some(WidthParam::BassMonoHz) => {
                if value > 0.0 {
                    let was_off = self.bass_off();
                    self.bass_log2_hz
                        .set_target(value.max(MIN_BASS_MONO_HZ).log2());
                    if was_off {
                        // Nothing to glide from: start at the new frequency.
                        self.bass_log2_hz.snap();
                    }
                    self.bass_amount.set_target(1.0);
                } else {
                    self.bass_amount.set_target(0.0);
                }
            }
            _ => {}
        }
    }

    fn reset(&mut self) {
        self.width_pct.snap();
        self.side_gain_db.snap();
        self.bass_amount.snap();
        self.bass_log2_hz.snap();
        self.side_gain = self.steady_side_gain();
        self.side_state = LrSplitState::default();
        self.mid_state = AllpassState::default();
        self.filters_clear = true;
        self.on_grid();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let [l, r] = io.inputs else {
            return;
        };
        let [ol, or] = &mut *io.outputs else {
            return;
        };
        let mut done = 0;
        while done < io.frames {
            if self.plain_and_steady() {
                // Nothing moves and bass mono is off: mid/side scaling alone, in one
                // tight loop over the rest of the block (the grid would do nothing).
                let g = self.side_gain;
                let range = done..io.frames;
                for (((x, y), ol), or) in l[range.clone()]
                    .iter()
                    .zip(&r[range.clone()])
                    .zip(&mut ol[range.clone()])
                    .zip(&mut or[range])
                {
                    let (x, y) = (f64::from(*x), f64::from(*y));
                    let mid = 0.5 * (x + y);
                    let side = 0.5 * (x - y) * g;
                    *ol = (mid + side) as f32;
                    *or = (mid - side) as f32;
                }
                break;
            }
            let pos = io.position_frames + done as u64;
            if pos.is_multiple_of(COEF_GRID_FRAMES) {
                self.on_grid();
            }
            let len = grid_segment(pos, io.frames - done);
            for i in done..done + len {
                self.bass_log2_hz.next();
                let g = if self.width_pct.is_smoothing() || self.side_gain_db.is_smoothing() {
                    self.width_pct.next();
                    self.side_gain_db.next();
                    self.side_gain = self.steady_side_gain();
                    self.side_gain
                } else {
                    self.side_gain
                };
                let (x, y) = (f64::from(l[i]), f64::from(r[i]));
                let mut mid = 0.5 * (x + y);
                let mut side = 0.5 * (x - y) * g;
                let a = f64::from(self.bass_amount.next());
                if a == 0.0 && !self.bass_amount.is_smoothing() {
                    if !self.filters_clear {
                        self.side_state = LrSplitState::default();
                        self.mid_state = AllpassState::default();
                        self.filters_clear = true;
                    }
                } else {
                    self.filters_clear = false;
                    let mid_ap = self.split.allpass(&mut self.mid_state, mid);
                    let side_hp = self.split.highpass(&mut self.side_state, side);
                    mid += a * (mid_ap - mid);
                    side += a * (side_hp - side);
                }
                ol[i] = (mid + side) as f32;
                or[i] = (mid - side) as f32;
            }
            done += len;
        }
    }
}
