//! The EQ fit: gains of a fixed set of bells and shelves, chosen by least squares so that
//! the cascade's real magnitude response follows a target curve on a log-frequency grid.
//!
//! Why bells on a fixed log grid, not an FIR: the result is an ordinary `eq` node that a
//! user reads, edits, bypasses and automates band by band, minimum or linear phase at
//! will; and a long-term tonal difference is smooth (it is measured through 1/3-octave
//! smoothing), so a bell every third of an octave has the resolution it needs. Why iterate:
//! a bell's response in dB is only nearly proportional to its gain, and neighbours
//! overlap; each Gauss-Newton step linearises the matched-biquad response of every band
//! (the very coefficients the `eq` kind runs) around the current gains and solves the
//! ridge-regularised normal equations, so the fit converges to the cascade that best
//! follows the target, not to a sum of idealised shapes.

use lathe_nodes::dsp::biquad::{Alignment, Coefs, FilterDesign, FilterType, MAX_SECTIONS};

/// Default bells per octave.
pub const DEFAULT_BANDS_PER_OCTAVE: f64 = 3.0;
/// Default largest boost or cut of a band.
pub const DEFAULT_MAX_GAIN_DB: f64 = 12.0;
/// Default lowest and highest bell centres: the low shelf sits at the first, the high
/// shelf at the last.
pub const DEFAULT_RANGE_HZ: (f64, f64) = (25.0, 16_000.0);
/// Q of the shelves: Butterworth, no overshoot.
pub const SHELF_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// Gauss-Newton steps at most; the fit stops earlier once no gain moves by
/// [`CONVERGED_DB`].
pub const MAX_ITERATIONS: usize = 30;
pub const CONVERGED_DB: f64 = 0.005;
/// Ridge weight relative to the mean diagonal of the normal matrix: keeps overlapping
/// bells from trading large opposite gains for a tiny gain in fit.
const RIDGE: f64 = 1e-2;

/// The limits of the fit, all CLI parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitLimits {
    pub max_gain_db: f64,
    pub bands_per_octave: f64,
    /// Q of the bells; `None`: from the spacing (see [`bell_q_for_spacing`]).
    pub q: Option<f64>,
    pub low_hz: f64,
    pub high_hz: f64,
}

impl Default for FitLimits {
    fn default() -> Self {
        Self {
            max_gain_db: DEFAULT_MAX_GAIN_DB,
            bands_per_octave: DEFAULT_BANDS_PER_OCTAVE,
            q: None,
            low_hz: DEFAULT_RANGE_HZ.0,
            high_hz: DEFAULT_RANGE_HZ.1,
        }
    }
}

/// Q of a bell 1.5 spacings wide (bandwidth in octaves `N`: `Q = 2^(N/2) / (2^N - 1)`):
/// neighbours overlap enough that their sum has no ripple between centres.
pub fn bell_q_for_spacing(bands_per_octave: f64) -> f64 {
    let n = 1.5 / bands_per_octave;
    2f64.powf(n / 2.0) / (2f64.powf(n) - 1.0)
}

/// One fitted band.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Band {
    #[serde(serialize_with = "kind_name")]
    pub kind: FilterType,
    pub freq_hz: f64,
    pub gain_db: f64,
    pub q: f64,
}

fn kind_name<S: serde::Serializer>(k: &FilterType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(type_name(*k))
}

/// The `eq` kind's name of a band type.
pub fn type_name(kind: FilterType) -> &'static str {
    match kind {
        FilterType::LowShelf => "low_shelf",
        FilterType::HighShelf => "high_shelf",
        _ => "bell",
    }
}

impl Band {
    /// Magnitude in dB of this band as the `eq` kind runs it (matched biquads) at
    /// `freq_hz`.
    pub fn response_db(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        if self.gain_db == 0.0 {
            return 0.0;
        }
        let design = FilterDesign {
            kind: self.kind,
            order: 2,
            alignment: Alignment::Butterworth,
            freq_hz: self.freq_hz,
            gain_db: self.gain_db,
            q: self.q,
        };
        let mut coefs = [Coefs::IDENTITY; MAX_SECTIONS];
        let used = design.analog().matched(sample_rate_hz, &mut coefs);
        coefs[..used]
            .iter()
            .map(|c| 20.0 * c.magnitude(freq_hz, sample_rate_hz).log10())
            .sum()
    }
}

/// Magnitude in dB of a cascade of bands at each frequency.
pub fn cascade_db(bands: &[Band], grid_hz: &[f64], sample_rate_hz: f64) -> Vec<f64> {
    grid_hz
        .iter()
        .map(|&f| bands.iter().map(|b| b.response_db(f, sample_rate_hz)).sum())
        .collect()
}

/// The layout being fitted: a low shelf at `low_hz`, bells from `low_hz` to `high_hz`
/// at `bands_per_octave`, a high shelf at `high_hz`; all at 0 dB. The shelves carry
/// the difference beyond the bells' range (sub-bass, air) that bells would only reach
/// with their skirts.
pub fn layout(limits: &FitLimits, sample_rate_hz: f64) -> Vec<Band> {
    let q = limits
        .q
        .unwrap_or_else(|| bell_q_for_spacing(limits.bands_per_octave));
    let high_hz = limits.high_hz.min(0.45 * sample_rate_hz);
    let octaves = (high_hz / limits.low_hz).log2();
    let steps = (octaves * limits.bands_per_octave).round().max(1.0) as usize;
    let mut bands = vec![Band {
        kind: FilterType::LowShelf,
        freq_hz: limits.low_hz,
        gain_db: 0.0,
        q: SHELF_Q,
    }];
    bands.extend((0..=steps).map(|k| Band {
        kind: FilterType::Bell,
        freq_hz: limits.low_hz * 2f64.powf(octaves * k as f64 / steps as f64),
        gain_db: 0.0,
        q,
    }));
    bands.push(Band {
        kind: FilterType::HighShelf,
        freq_hz: high_hz,
        gain_db: 0.0,
        q: SHELF_Q,
    });
    bands
}

/// What [`fit`] found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Fit {
    pub bands: Vec<Band>,
    /// RMS over the grid of target minus the cascade's response.
    pub residual_rms_db: f64,
    pub iterations: usize,
    /// Bands held at ±max_gain_db.
    pub bands_at_limit: usize,
}

/// Fits the gains of `bands` (their kinds, frequencies and Qs stay) so that the cascade
/// follows `target_db` at `grid_hz`; points without a target (`None`) do not count.
pub fn fit(
    mut bands: Vec<Band>,
    grid_hz: &[f64],
    target_db: &[Option<f64>],
    max_gain_db: f64,
    sample_rate_hz: f64,
) -> Fit {
    // A target beyond the gain limit cannot be reached; left as it is, its excess would
    // pull the neighbouring bands into large opposite gains.
    let points: Vec<(f64, f64)> = grid_hz
        .iter()
        .zip(target_db)
        .filter_map(|(&f, t)| Some((f, t.as_ref()?.clamp(-max_gain_db, max_gain_db))))
        .collect();
    let n = bands.len();
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS && !points.is_empty() && n > 0 {
        iterations += 1;
        // Columns of the Jacobian by central differences of each band's own response.
        const STEP_DB: f64 = 0.25;
        let mut jacobian = vec![vec![0.0; points.len()]; n];
        let mut model = vec![0.0; points.len()];
        for (k, band) in bands.iter().enumerate() {
            let at = |g: f64| Band {
                gain_db: g,
                ..*band
            };
            let (up, down, now) = (
                at(band.gain_db + STEP_DB),
                at(band.gain_db - STEP_DB),
                *band,
            );
            for (i, &(f, _)) in points.iter().enumerate() {
                jacobian[k][i] = (up.response_db(f, sample_rate_hz)
                    - down.response_db(f, sample_rate_hz))
                    / (2.0 * STEP_DB);
                model[i] += now.response_db(f, sample_rate_hz);
            }
        }
        let residual: Vec<f64> = points.iter().zip(&model).map(|(p, m)| p.1 - m).collect();
        let mut normal = vec![vec![0.0; n]; n];
        let mut rhs = vec![0.0; n];
        for a in 0..n {
            for b in a..n {
                let v: f64 = jacobian[a]
                    .iter()
                    .zip(&jacobian[b])
                    .map(|(x, y)| x * y)
                    .sum();
                normal[a][b] = v;
                normal[b][a] = v;
            }
            rhs[a] = jacobian[a].iter().zip(&residual).map(|(x, r)| x * r).sum();
        }
        let ridge = RIDGE * (0..n).map(|k| normal[k][k]).sum::<f64>() / n as f64;
        for k in 0..n {
            normal[k][k] += ridge;
            rhs[k] -= ridge * bands[k].gain_db;
        }
        let Some(step) = solve(normal, rhs) else {
            break;
        };
        let mut largest_move: f64 = 0.0;
        for (band, d) in bands.iter_mut().zip(step) {
            let g = (band.gain_db + d).clamp(-max_gain_db, max_gain_db);
            largest_move = largest_move.max((g - band.gain_db).abs());
            band.gain_db = g;
        }
        if largest_move < CONVERGED_DB {
            break;
        }
    }
    for band in &mut bands {
        band.gain_db = (band.gain_db * 100.0).round() / 100.0;
    }
    let residual_rms_db = rms(points.iter().map(|&(f, t)| {
        t - bands
            .iter()
            .map(|b| b.response_db(f, sample_rate_hz))
            .sum::<f64>()
    }));
    let bands_at_limit = bands
        .iter()
        .filter(|b| b.gain_db.abs() >= max_gain_db - 1e-9)
        .count();
    Fit {
        bands,
        residual_rms_db,
        iterations,
        bands_at_limit,
    }
}

/// Root mean square of a sequence (0 for none).
pub fn rms(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v * v, c + 1));
    if count == 0 {
        0.0
    } else {
        (sum / count as f64).sqrt()
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (x, p) in lower[0][col..].iter_mut().zip(&upper[col][col..]) {
                    *x -= factor * p;
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let sum: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - sum) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::curve::grid_hz;

    const RATE: f64 = 48_000.0;

    #[test]
    fn a_curve_made_of_the_layout_is_recovered() {
        // Target: the layout itself at known gains. A shelf and a bell share each end,
        // so single gains are not identifiable; the response is. Tolerance: 0.1 dB RMS,
        // 0.3 dB at any point from 30 Hz to 14 kHz (the ridge trades a little accuracy
        // for gains that do not fight each other).
        let limits = FitLimits::default();
        let mut known = layout(&limits, RATE);
        for (k, b) in known.iter_mut().enumerate() {
            b.gain_db = 5.0 * ((k as f64) * 0.7).sin();
        }
        let grid = grid_hz(RATE);
        let want = cascade_db(&known, &grid, RATE);
        let target: Vec<Option<f64>> = want.iter().copied().map(Some).collect();
        let fit = fit(layout(&limits, RATE), &grid, &target, 12.0, RATE);
        assert!(fit.residual_rms_db < 0.1, "{fit:?}");
        let got = cascade_db(&fit.bands, &grid, RATE);
        for ((f, w), g) in grid.iter().zip(&want).zip(&got) {
            if (30.0..=14_000.0).contains(f) {
                assert!((w - g).abs() < 0.3, "{f} Hz: {w} vs {g}");
            }
        }
    }

    #[test]
    fn a_tilt_is_followed_within_a_third_of_a_db_and_limits_hold() {
        let grid = grid_hz(RATE);
        // 2 dB per octave around 1 kHz: -11.3 dB at 20 Hz, +8.6 dB at 20 kHz.
        let target: Vec<Option<f64>> = grid
            .iter()
            .map(|f| Some(2.0 * (f / 1000.0).log2()))
            .collect();
        let limits = FitLimits::default();
        let fit = fit(
            layout(&limits, RATE),
            &grid,
            &target,
            limits.max_gain_db,
            RATE,
        );
        let model = cascade_db(&fit.bands, &grid, RATE);
        for ((f, t), m) in grid.iter().zip(&target).zip(&model) {
            if (40.0..=12_000.0).contains(f) {
                assert!((t.unwrap() - m).abs() < 0.35, "{f} Hz: {t:?} vs {m}");
            }
        }
        assert!(fit.bands.iter().all(|b| b.gain_db.abs() <= 12.0));
        // With a 2 dB cap the tilt cannot be reached: every gain stays within it.
        let capped = super::fit(layout(&limits, RATE), &grid, &target, 2.0, RATE);
        assert!(
            capped.bands.iter().all(|b| b.gain_db.abs() <= 2.0),
            "{capped:?}"
        );
        assert!(capped.bands_at_limit > 0);
    }

    #[test]
    fn the_layout_spans_the_range_at_the_spacing() {
        let bands = layout(&FitLimits::default(), RATE);
        // 25 Hz .. 16 kHz is 9.32 octaves: 28 third-octave steps, 29 bells, 2 shelves.
        assert_eq!(bands.len(), 31);
        assert_eq!(bands[0].kind, FilterType::LowShelf);
        assert_eq!(bands[30].kind, FilterType::HighShelf);
        assert!((bands[1].freq_hz - 25.0).abs() < 1e-9);
        assert!((bands[29].freq_hz - 16_000.0).abs() < 1e-6);
        assert!((bell_q_for_spacing(2.0) - 1.9).abs() < 0.02);
        assert!((bell_q_for_spacing(3.0) - 2.87).abs() < 0.02);
    }
}
