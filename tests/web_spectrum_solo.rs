//! The web console's own spectrum and solo from the graph drawing, in a real browser: a
//! private jackd (dummy driver), `lathe run --ui` on graphs/master.ron (which has no
//! `spectrum` node) fed two tones, and headless Chromium through chromedriver. Skipped
//! with a notice when jackd, chromium or chromedriver is missing, unless
//! `LATHE_REQUIRE_JACK=1` / `LATHE_REQUIRE_CHROMIUM=1`. Every process is stopped by its
//! PID on drop, also when a check fails.

mod jack_support;
mod web_support;

use std::path::Path;
use std::time::{Duration, Instant};

use jack_support::{JackServer, Lathe, RATE, TempDir};
use serde_json::json;
use web_support::{Browser, Driver, Feeder};

const SECOND: Duration = Duration::from_secs(1);
/// The two tones fed to lathe: one below the crossover's 200 Hz, one above its 2 kHz.
const LOW_HZ: f32 = 100.0;
const HIGH_HZ: f32 = 5000.0;

/// The spectrum bands the page draws now: label -> level in dB (None: no level yet).
fn page_bands(b: &Browser) -> Vec<(String, Option<f64>)> {
    let v = b.js(
        "const c = document.getElementById('spectrum'); \
         return [c.dataset.labels || '[]', c.dataset.levels || '[]'];",
        json!([]),
    );
    let labels: Vec<String> = serde_json::from_str(v[0].as_str().unwrap_or("[]")).unwrap();
    let levels: Vec<Option<f64>> = serde_json::from_str(v[1].as_str().unwrap_or("[]")).unwrap();
    labels.into_iter().zip(levels).collect()
}

fn band(bands: &[(String, Option<f64>)], label: &str) -> f64 {
    bands
        .iter()
        .find(|(l, _)| l == label)
        .and_then(|(_, v)| *v)
        .unwrap_or(f64::NEG_INFINITY)
}

/// Waits until the page's bands satisfy `pred`; panics with `what` and the last bands.
fn wait_bands(b: &Browser, what: &str, pred: impl Fn(&[(String, Option<f64>)]) -> bool) {
    let deadline = Instant::now() + 15 * SECOND;
    loop {
        let bands = page_bands(b);
        if pred(&bands) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {bands:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The console's own spectrum: with no `spectrum` node in the graph the page shows the
/// main output's, says so, and its bands move with the audio (silent before the tones,
/// then the tones' bands well above the rest). A click on a crossover band's output dot
/// in the drawing solos that band: the engine reports it (`solo` on lathe's console) and
/// the spectrum follows (the other tone falls away); a second click returns; a click on
/// a one-output node solos it, and `solo off` returns.
#[test]
fn console_spectrum_and_solo_from_the_drawing() {
    let Some(server) = JackServer::start() else {
        return;
    };
    let dir = TempDir::new();
    let Some(driver) = Driver::start(&dir.0) else {
        return;
    };
    let master = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs/master.ron");
    let graph = dir.write(
        "master.ron",
        &std::fs::read_to_string(&master).expect("master.ron"),
    );
    let mut lathe = Lathe::start(&server, &graph, &["--name", "ls", "--ui", "127.0.0.1:0"]);
    let url = lathe.web_console_url();
    let page = driver.browser("spectrum");
    page.goto(&url);
    let (live, conn) = page.wait_text("#conn", 10 * SECOND, |t| t == "live");
    assert!(live, "page did not connect: {conn}");
    let (shown, source) = page.wait_text("#spectrum-source", 10 * SECOND, |t| {
        t.eq_ignore_ascii_case("main output")
    });
    assert!(shown, "spectrum source: {source}");
    // Nothing plays yet: no band has a level.
    std::thread::sleep(SECOND);
    let silent = page_bands(&page);
    assert!(silent.len() >= 30, "bands: {silent:?}");
    assert!(silent.iter().all(|(_, v)| v.is_none()), "{silent:?}");

    let tones: Vec<f32> = (0..RATE)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            0.1 * (std::f32::consts::TAU * LOW_HZ * t).sin()
                + 0.1 * (std::f32::consts::TAU * HIGH_HZ * t).sin()
        })
        .collect();
    let _feeder = Feeder::start("ls", vec![tones.clone(), tones]);
    wait_bands(&page, "both tones in their bands", |b| {
        let (low, high) = (band(b, "100"), band(b, "5000"));
        low > -40.0 && high > -40.0 && band(b, "1000") < low.min(high) - 30.0
    });
    let whole = page_bands(&page);
    println!(
        "whole output: 100 Hz band {:.1} dB, 5 kHz band {:.1} dB",
        band(&whole, "100"),
        band(&whole, "5000")
    );
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-console-spectrum.png");
    std::fs::create_dir_all(Path::new(env!("CARGO_TARGET_TMPDIR"))).ok();
    std::fs::write(&shot, page.screenshot()).expect("screenshot");
    println!("screenshot: {}", shot.display());

    // The low band's dot on the crossover solos it: the engine says so, the high tone goes.
    page.click(r#"#graph circle.port[data-solo="bands.band1"]"#);
    let (soloed, t) = page.wait_text("#solo", 5 * SECOND, |t| t == "bands.band1");
    assert!(soloed, "solo on the page: {t}");
    lathe.send("solo");
    assert!(
        lathe.wait_stdout(|l| l.contains("monitor: solo bands.band1"), 5 * SECOND),
        "{}",
        lathe.stdout_text()
    );
    let high_before = band(&whole, "5000");
    wait_bands(&page, "the high tone gone under the low band's solo", |b| {
        band(b, "5000") < high_before - 30.0 && band(b, "100") > -40.0
    });
    // A second click returns to the whole output.
    page.click(r#"#graph circle.port[data-solo="bands.band1"]"#);
    let (off, t) = page.wait_text("#solo", 5 * SECOND, |t| t == "off");
    assert!(off, "solo still {t}");
    wait_bands(&page, "the high tone back", |b| {
        band(b, "5000") > high_before - 3.0
    });

    // A click on a node with one output solos it: comp_high passes the high tone only.
    page.click(r#"#graph g:has(> rect.box[data-id="comp_high"])"#);
    let (soloed, t) = page.wait_text("#solo", 5 * SECOND, |t| t.starts_with("comp_high."));
    assert!(soloed, "solo on the page: {t}");
    let low_before = band(&whole, "100");
    wait_bands(&page, "the low tone gone under comp_high's solo", |b| {
        band(b, "100") < low_before - 30.0 && band(b, "5000") > -40.0
    });
    lathe.send("solo off");
    let (off, t) = page.wait_text("#solo", 5 * SECOND, |t| t == "off");
    assert!(off, "solo still {t} after `solo off`");
    let errors: Vec<(String, String)> = page
        .console_log()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
