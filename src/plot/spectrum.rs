//! Long-term average spectra in 1/3-octave bands: Welch's method (Hann windows of
//! [`FFT_FRAMES`], half overlap) on the mean of the channels, then the power of each
//! band summed between its edges.

use realfft::RealFftPlanner;

use crate::audio_io::Audio;
use crate::plot::{COLORS, Panel, Series};

/// FFT length: 5.9 Hz bins at 48 kHz, enough for the 20 Hz band.
pub const FFT_FRAMES: usize = 8192;

/// Centres of the 1/3-octave bands, base-2 (1000 * 2^(k/3)), from 20 Hz to 20 kHz.
pub fn band_centres_hz() -> Vec<f64> {
    (-17..=13)
        .map(|k| 1000.0 * 2f64.powf(f64::from(k) / 3.0))
        .collect()
}

/// Power spectral density per FFT bin (arbitrary but consistent scale) and the bin
/// width in Hz.
pub fn average_power(audio: &Audio) -> (Vec<f64>, f64) {
    let frames = audio.frames();
    let channels = audio.channel_count().max(1) as f32;
    let mono: Vec<f32> = (0..frames)
        .map(|i| audio.channels.iter().map(|c| c[i]).sum::<f32>() / channels)
        .collect();
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(FFT_FRAMES);
    let window: Vec<f64> = (0..FFT_FRAMES)
        .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / FFT_FRAMES as f64).cos())
        .collect();
    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let mut power = vec![0.0; FFT_FRAMES / 2 + 1];
    let mut count = 0usize;
    let mut start = 0;
    loop {
        for (i, x) in input.iter_mut().enumerate() {
            *x = f64::from(mono.get(start + i).copied().unwrap_or(0.0)) * window[i];
        }
        if fft.process(&mut input, &mut output).is_ok() {
            for (p, c) in power.iter_mut().zip(&output) {
                *p += c.norm_sqr();
            }
            count += 1;
        }
        start += FFT_FRAMES / 2;
        if start + FFT_FRAMES / 2 >= frames.max(1) {
            break;
        }
    }
    power.iter_mut().for_each(|p| *p /= count.max(1) as f64);
    (power, f64::from(audio.sample_rate_hz) / FFT_FRAMES as f64)
}

/// Level of each 1/3-octave band in dB (relative, consistent between files of one rate);
/// `None` for a band above Nyquist or without energy.
pub fn third_octave_db(audio: &Audio) -> Vec<Option<f64>> {
    let (power, bin_hz) = average_power(audio);
    let nyquist = f64::from(audio.sample_rate_hz) / 2.0;
    band_centres_hz()
        .into_iter()
        .map(|fc| {
            let (lo, hi) = (fc * 2f64.powf(-1.0 / 6.0), fc * 2f64.powf(1.0 / 6.0));
            if hi > nyquist {
                return None;
            }
            let sum: f64 = power
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let f = *i as f64 * bin_hz;
                    f >= lo && f < hi
                })
                .map(|(_, p)| p)
                .sum();
            (sum > 1e-20).then(|| 10.0 * sum.log10())
        })
        .collect()
}

/// The curves of `lathe compare --plot`, per 1/3-octave band, all at the reference's
/// integrated loudness.
pub struct CompareCurves {
    pub freq_hz: Vec<f64>,
    pub mix_db: Vec<Option<f64>>,
    pub reference_db: Vec<Option<f64>>,
    /// The mix rendered through the match graph (empty or `None`s without a match).
    pub matched_db: Vec<Option<f64>>,
}

/// Two panels: mix, reference and matched mix on one chart; below, reference minus mix
/// and reference minus matched mix.
pub fn compare_panels(c: &CompareCurves) -> Vec<Panel> {
    let points = |v: &[Option<f64>]| -> Vec<(f64, f64)> {
        c.freq_hz
            .iter()
            .zip(v)
            .filter_map(|(&f, v)| Some((f, (*v)?)))
            .collect()
    };
    let minus = |a: &[Option<f64>], b: &[Option<f64>]| -> Vec<Option<f64>> {
        a.iter()
            .zip(b)
            .map(|(a, b)| Some(a.as_ref()? - b.as_ref()?))
            .collect()
    };
    let series = |name: &str, points: Vec<(f64, f64)>, color: usize| Series {
        name: name.into(),
        points,
        color: COLORS[color],
    };
    let mut levels = vec![
        series("mix", points(&c.mix_db), 0),
        series("reference", points(&c.reference_db), 1),
    ];
    let mut differences = vec![series(
        "reference - mix",
        points(&minus(&c.reference_db, &c.mix_db)),
        0,
    )];
    let matched = points(&c.matched_db);
    if !matched.is_empty() {
        levels.push(series("matched", matched, 2));
        differences.push(series(
            "reference - matched",
            points(&minus(&c.reference_db, &c.matched_db)),
            2,
        ));
    }
    vec![
        Panel {
            title: "Long-term 1/3-octave spectrum, loudness matched".into(),
            x_label: "frequency (Hz)".into(),
            y_label: "level (dB)".into(),
            log_x: true,
            series: levels,
            target: None,
        },
        Panel {
            title: "Reference - mix".into(),
            x_label: "frequency (Hz)".into(),
            y_label: "difference (dB)".into(),
            log_x: true,
            series: differences,
            target: Some((0.0, "0 dB".into())),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_lands_in_its_band_and_doubling_adds_six_db() {
        let sine = |amp: f64| Audio {
            sample_rate_hz: 48_000,
            channels: vec![
                (0..48_000)
                    .map(|i| {
                        (amp * (i as f64 * 1000.0 * std::f64::consts::TAU / 48_000.0).sin()) as f32
                    })
                    .collect(),
            ],
        };
        let a = third_octave_db(&sine(0.25));
        let b = third_octave_db(&sine(0.5));
        let k = band_centres_hz()
            .iter()
            .position(|&f| (f - 1000.0).abs() < 1.0)
            .unwrap();
        let loudest = (0..a.len())
            .max_by(|&i, &j| a[i].unwrap_or(-999.0).total_cmp(&a[j].unwrap_or(-999.0)))
            .unwrap();
        assert_eq!(loudest, k);
        // Tolerance: 0.01 dB, window leakage identical for both.
        assert!((b[k].unwrap() - a[k].unwrap() - 6.0206).abs() < 0.01);
    }
}
