//! Smoothed long-term spectra on a log-frequency grid: what the match compares.
//!
//! A mix and a reference differ in notes, not only in tonal balance; comparing raw FFT
//! bins would make the EQ chase the notes. Each grid point therefore holds the mean power
//! of the FFT bins within a window of `smoothing_octaves` around it (1/3 octave by
//! default, close to the ear's critical bands above 500 Hz and wider than them below),
//! so the curve follows balance and ignores single partials.

use crate::audio_io::Audio;
use crate::plot::spectrum::average_power;

/// Grid points per octave: fine enough that a bell of the narrowest fitted width is
/// sampled several times across its bandwidth.
pub const GRID_POINTS_PER_OCTAVE: f64 = 24.0;
/// Lowest grid frequency.
pub const GRID_LOW_HZ: f64 = 20.0;
/// Highest grid frequency (also kept below 0.45 x the sample rate).
pub const GRID_HIGH_HZ: f64 = 20_000.0;
/// Default width of the smoothing window, in octaves.
pub const DEFAULT_SMOOTHING_OCTAVES: f64 = 1.0 / 3.0;

/// The frequencies of the grid for a sample rate: `GRID_LOW_HZ * 2^(k/24)` up to
/// `GRID_HIGH_HZ` or 0.45 fs, whichever is lower.
pub fn grid_hz(sample_rate_hz: f64) -> Vec<f64> {
    let top_hz = GRID_HIGH_HZ.min(0.45 * sample_rate_hz);
    (0..)
        .map(|k| GRID_LOW_HZ * 2f64.powf(f64::from(k) / GRID_POINTS_PER_OCTAVE))
        .take_while(|&f| f <= top_hz * 1.0001)
        .collect()
}

/// Mean power (dB, arbitrary but consistent reference) of the bins within
/// `smoothing_octaves` around each grid point; the nearest bin where the window holds
/// none (low frequencies). `None` where there is no energy.
pub fn smoothed_db(
    power: &[f64],
    bin_hz: f64,
    grid_hz: &[f64],
    smoothing_octaves: f64,
) -> Vec<Option<f64>> {
    let half = 2f64.powf(smoothing_octaves / 2.0);
    grid_hz
        .iter()
        .map(|&f| {
            let lo_bin = (f / half / bin_hz).ceil().max(1.0) as usize;
            let hi_bin = ((f * half / bin_hz).floor() as usize).min(power.len().saturating_sub(1));
            let mean = if hi_bin >= lo_bin {
                let bins = &power[lo_bin..=hi_bin];
                bins.iter().sum::<f64>() / bins.len() as f64
            } else {
                let nearest = ((f / bin_hz).round() as usize).clamp(1, power.len().max(2) - 1);
                power.get(nearest).copied().unwrap_or(0.0)
            };
            (mean > 1e-30).then(|| 10.0 * mean.log10())
        })
        .collect()
}

/// The smoothed spectra of one file: the mean of its channels (what the 1/3-octave
/// comparison reads), and for stereo files its mid and side.
#[derive(Debug, Clone)]
pub struct Spectra {
    pub grid_hz: Vec<f64>,
    pub mean_db: Vec<Option<f64>>,
    /// Side level minus mid level per grid point (stereo only): the width per band.
    pub side_minus_mid_db: Option<Vec<Option<f64>>>,
}

/// Width of the smoothing of the side/mid ratio: one octave, as width is judged over
/// broad regions (bass, mids, air), never per note.
pub const WIDTH_SMOOTHING_OCTAVES: f64 = 1.0;

/// Measures the smoothed spectra of `audio`.
pub fn spectra(audio: &Audio, smoothing_octaves: f64) -> Spectra {
    let rate_hz = f64::from(audio.sample_rate_hz);
    let grid = grid_hz(rate_hz);
    let (power, bin_hz) = average_power(audio);
    let mean_db = smoothed_db(&power, bin_hz, &grid, smoothing_octaves);
    let side_minus_mid_db = (audio.channel_count() == 2).then(|| {
        let (l, r) = (&audio.channels[0], &audio.channels[1]);
        let one = |f: &dyn Fn(f32, f32) -> f32| Audio {
            sample_rate_hz: audio.sample_rate_hz,
            channels: vec![l.iter().zip(r).map(|(&a, &b)| f(a, b)).collect()],
        };
        let (mid, bin_hz) = average_power(&one(&|a, b| 0.5 * (a + b)));
        let (side, _) = average_power(&one(&|a, b| 0.5 * (a - b)));
        let mid = smoothed_db(&mid, bin_hz, &grid, WIDTH_SMOOTHING_OCTAVES);
        let side = smoothed_db(&side, bin_hz, &grid, WIDTH_SMOOTHING_OCTAVES);
        mid.iter()
            .zip(&side)
            .map(|(m, s)| Some(s.as_ref()? - m.as_ref()?))
            .collect()
    });
    Spectra {
        grid_hz: grid,
        mean_db,
        side_minus_mid_db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_spans_20_hz_to_20_khz_at_48_khz_and_stops_below_nyquist_at_32() {
        let g = grid_hz(48_000.0);
        assert!((g[0] - 20.0).abs() < 1e-9);
        assert!(
            (19_400.0..=20_000.0).contains(&g[g.len() - 1]),
            "{}",
            g[g.len() - 1]
        );
        assert_eq!(g.len(), 240);
        assert!(*grid_hz(32_000.0).last().unwrap() <= 14_400.0);
    }

    #[test]
    fn smoothing_averages_bins_in_the_window() {
        // Flat power with one loud bin: the window around it holds the mean.
        let mut power = vec![1.0; 1000];
        power[100] = 101.0;
        let g = [100.0];
        // 1 Hz bins; a 1/3 octave window around 100 Hz holds bins 90..=112 (23 bins).
        let db = smoothed_db(&power, 1.0, &g, 1.0 / 3.0)[0].unwrap();
        let mean: f64 = (22.0 + 101.0) / 23.0;
        assert!((db - 10.0 * mean.log10()).abs() < 1e-9, "{db}");
    }
}
