//! Measures a decoded signal the way `lathe codec-check` reports it: true peak with
//! lathe's own BS.1770 meter, sample peak, the overs at or above 0 dBFS (samples that clip
//! when written as integers, or that a clamping decoder has already clipped: symphonia's
//! MP3 decoder clamps to ±1.0) and above a true-peak ceiling, and the worst places in time.

use lathe_nodes::dsp::bs1770::true_peak::TruePeak;
use serde::Serialize;

/// Length of the windows the true peak is followed in: short enough to place an over
/// to the hundredth of a second, long enough that the list of worst places stays short.
pub const WINDOW_MS: f64 = 10.0;
/// Worst places reported per decode.
pub const WORST_PLACES: usize = 5;
/// Worst places closer together than this are one place.
pub const WORST_SPACING_S: f64 = 1.0;

/// Runs of consecutive overs: how many, and how long together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Overs {
    pub count: usize,
    pub duration_ms: f64,
}

/// One of the loudest moments of a decode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Place {
    /// Start of the window, seconds from the start of the file.
    pub time_s: f64,
    pub true_peak_dbtp: f64,
}

/// Peaks and overs of one decoded signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeakReport {
    pub true_peak_dbtp: f64,
    pub sample_peak_dbfs: f64,
    pub overs_0dbfs: Overs,
    pub overs_ceiling: Overs,
    pub worst: Vec<Place>,
    /// True peak of each [`WINDOW_MS`] window in turn (dBTP), for plots.
    #[serde(skip)]
    pub windows_dbtp: Vec<f64>,
}

fn db(linear: f64) -> f64 {
    if linear > 0.0 {
        20.0 * linear.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Counts runs where `over(i)` holds, each index standing for `unit_ms`.
fn runs(len: usize, unit_ms: f64, over: impl Fn(usize) -> bool) -> Overs {
    let mut result = Overs::default();
    let mut inside = false;
    for i in 0..len {
        let o = over(i);
        if o {
            result.duration_ms += unit_ms;
            if !inside {
                result.count += 1;
            }
        }
        inside = o;
    }
    result
}

/// Measures planar `channels` at `sample_rate_hz` against `ceiling_dbtp`.
pub fn measure(channels: &[Vec<f32>], sample_rate_hz: u32, ceiling_dbtp: f64) -> PeakReport {
    let frames = channels.first().map_or(0, Vec::len);
    let rate = f64::from(sample_rate_hz);
    let window_frames = ((rate * WINDOW_MS / 1000.0).round() as usize).max(1);
    let mut meter = TruePeak::new(channels.len(), rate);
    let mut window_peaks = Vec::with_capacity(frames / window_frames + 1);
    for start in (0..frames).step_by(window_frames) {
        let end = (start + window_frames).min(frames);
        meter.reset_peaks();
        for (c, channel) in channels.iter().enumerate() {
            meter.process(c, &channel[start..end]);
        }
        window_peaks.push(f64::from(meter.max_peak()));
    }
    let frame_peak = |i: usize| channels.iter().fold(0f32, |m, c| m.max(c[i].abs()));
    let sample_peak = (0..frames).fold(0f32, |m, i| m.max(frame_peak(i)));
    let ceiling_linear = 10f64.powf(ceiling_dbtp / 20.0);
    let frame_ms = 1000.0 / rate;
    PeakReport {
        true_peak_dbtp: db(window_peaks.iter().fold(0.0, |m: f64, &p| m.max(p))),
        sample_peak_dbfs: db(f64::from(sample_peak)),
        overs_0dbfs: runs(frames, frame_ms, |i| frame_peak(i) >= 1.0),
        overs_ceiling: runs(window_peaks.len(), window_frames as f64 * frame_ms, |w| {
            window_peaks[w] > ceiling_linear
        }),
        worst: worst_places(&window_peaks, window_frames as f64 / rate),
        windows_dbtp: window_peaks.iter().map(|&p| db(p)).collect(),
    }
}

/// The loudest windows, at least [`WORST_SPACING_S`] apart, loudest first.
fn worst_places(window_peaks: &[f64], window_s: f64) -> Vec<Place> {
    let mut order: Vec<usize> = (0..window_peaks.len()).collect();
    order.sort_by(|&a, &b| window_peaks[b].total_cmp(&window_peaks[a]));
    let mut places: Vec<Place> = Vec::new();
    for w in order {
        if places.len() == WORST_PLACES || window_peaks[w] <= 0.0 {
            break;
        }
        let time_s = w as f64 * window_s;
        if places
            .iter()
            .all(|p| (p.time_s - time_s).abs() >= WORST_SPACING_S)
        {
            places.push(Place {
                time_s,
                true_peak_dbtp: db(window_peaks[w]),
            });
        }
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overs_are_counted_as_runs_with_their_duration() {
        let rate = 48_000;
        let mut signal = vec![0.5f32; rate as usize * 3];
        // Two clipped runs: 3 samples at 0.5 s and 1 sample at 2.5 s.
        for i in [24_000, 24_001, 24_002] {
            signal[i] = 1.2;
        }
        signal[120_000] = 1.05;
        let report = measure(&[signal], rate, -1.0);
        assert_eq!(report.overs_0dbfs.count, 2);
        assert!((report.overs_0dbfs.duration_ms - 4.0 * 1000.0 / 48_000.0).abs() < 1e-9);
        assert_eq!(report.overs_ceiling.count, 2);
        assert!((report.sample_peak_dbfs - db(1.2)).abs() < 1e-5);
        assert!(report.true_peak_dbtp >= report.sample_peak_dbfs - 1e-6);
        assert_eq!(report.worst.len(), 3, "{:?}", report.worst);
        assert!(
            (report.worst[0].time_s - 0.5).abs() < 0.011,
            "{:?}",
            report.worst
        );
        assert!((report.worst[1].time_s - 2.5).abs() < 0.011);
    }
}
