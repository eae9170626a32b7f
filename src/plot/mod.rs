//! Charts for `lathe plot`, `lathe compare --plot` and `lathe render --plot`, drawn with
//! plotters to PNG or SVG (chosen by the file extension).
//!
//! Text needs a font: plotters' `ab_glyph` renderer reads a TrueType file, found at run
//! time among common system paths (no fontconfig). Without one the chart is drawn
//! without labels.

pub mod graph;
pub mod spectrum;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

/// Font files tried in order for labels.
const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Registers a label font once per process; whether one was found.
fn font_available() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        FONT_PATHS.iter().any(|path| {
            std::fs::read(path).is_ok_and(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        })
    })
}

/// One curve: its name, points and colour.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
}

/// One panel of a chart.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Logarithmic frequency axis.
    pub log_x: bool,
    pub series: Vec<Series>,
    /// A horizontal reference line (a loudness target) and its label.
    pub target: Option<(f64, String)>,
}

/// Series colours, in order; charts with more series cycle through them.
pub const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The axis ranges of a panel: `(x0, x1, y0, y1)`.
type Ranges = (f64, f64, f64, f64);

/// Draws `panels` stacked vertically into `path` (.png or .svg) of `width` x `height`,
/// each scaled to its own curves.
pub fn draw(path: &Path, width: u32, height: u32, panels: &[Panel]) -> Result<(), String> {
    draw_with(path, width, height, panels, None)
}

/// Like [`draw`], with every panel on the same axes (the union of their ranges), so
/// panels of the same measure (an album's tracks) can be compared by eye.
pub fn draw_one_scale(
    path: &Path,
    width: u32,
    height: u32,
    panels: &[Panel],
) -> Result<(), String> {
    draw_with(path, width, height, panels, Some(shared_ranges(panels)))
}

/// The union of the panels' ranges.
fn shared_ranges(panels: &[Panel]) -> Ranges {
    panels.iter().map(panel_ranges).fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |a, b| (a.0.min(b.0), a.1.max(b.1), a.2.min(b.2), a.3.max(b.3)),
    )
}

/// The ranges a panel's curves (and target line) need, with a margin above and below.
fn panel_ranges(panel: &Panel) -> Ranges {
    let points = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if let Some((t, _)) = panel.target {
        y0 = y0.min(t);
        y1 = y1.max(t);
    }
    if x0.partial_cmp(&x1) != Some(std::cmp::Ordering::Less) {
        (x0, x1) = (
            if panel.log_x { 10.0 } else { 0.0 },
            if panel.log_x { 20_000.0 } else { 1.0 },
        );
    }
    if y0.partial_cmp(&y1) != Some(std::cmp::Ordering::Less) {
        (y0, y1) = (y0.min(0.0) - 1.0, y1.max(0.0) + 1.0);
    }
    let pad = (y1 - y0) * 0.05;
    (x0, x1, y0 - pad, y1 + pad)
}

fn draw_with(
    path: &Path,
    width: u32,
    height: u32,
    panels: &[Panel],
    shared: Option<Ranges>,
) -> Result<(), String> {
    struct Panels<'a>(&'a [Panel], Option<Ranges>);
    impl Painter for Panels<'_> {
        fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            draw_on(root, self.0, self.1)
        }
    }
    paint_file(
        path,
        (width, height),
        &Panels(panels, shared),
        "the plot file",
    )
}

/// Something that draws itself on any plotters backend: a chart of panels or a graph.
pub(crate) trait Painter {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Paints `painter` into `path`, a PNG or an SVG by its extension (`what` names the file in
/// the message for any other extension).
pub(crate) fn paint_file(
    path: &Path,
    (width, height): (u32, u32),
    painter: &impl Painter,
    what: &str,
) -> Result<(), String> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let result = match ext.as_str() {
        "png" => {
            let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
            painter
                .paint(&root)
                .and_then(|()| root.present().map_err(|e| e.to_string()))
        }
        "svg" => {
            let root = SVGBackend::new(path, (width, height)).into_drawing_area();
            painter
                .paint(&root)
                .and_then(|()| root.present().map_err(|e| e.to_string()))
        }
        _ => {
            return Err(format!(
                "`{}`: {what} must end in .png or .svg",
                path.display()
            ));
        }
    };
    result.map_err(|e| format!("cannot draw `{}`: {e}", path.display()))
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
    shared: Option<Ranges>,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    let labels = font_available();
    for (area, panel) in areas.iter().zip(panels) {
        let (x0, x1, y0, y1) = shared.unwrap_or_else(|| panel_ranges(panel));
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if labels {
            builder
                .caption(&panel.title, ("sans-serif", 18))
                .x_label_area_size(36)
                .y_label_area_size(56);
        }
        macro_rules! finish {
            ($chart:expr) => {{
                let mut chart = $chart;
                let mut mesh = chart.configure_mesh();
                if labels {
                    mesh.x_desc(&panel.x_label).y_desc(&panel.y_label);
                } else {
                    mesh.x_labels(0).y_labels(0);
                }
                mesh.draw().map_err(err)?;
                for s in &panel.series {
                    let pts = s
                        .points
                        .iter()
                        .copied()
                        .filter(|p| p.0.is_finite() && p.1.is_finite());
                    let drawn = chart
                        .draw_series(LineSeries::new(pts, s.color.stroke_width(2)))
                        .map_err(err)?;
                    if labels {
                        let color = s.color;
                        drawn.label(&s.name).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                        });
                    }
                }
                if let Some((t, name)) = &panel.target {
                    let drawn = chart
                        .draw_series(LineSeries::new([(x0, *t), (x1, *t)], RED.stroke_width(1)))
                        .map_err(err)?;
                    if labels {
                        drawn
                            .label(name)
                            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED));
                    }
                }
                if labels {
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()
                        .map_err(err)?;
                }
            }};
        }
        if panel.log_x {
            let x0 = x0.max(1.0);
            finish!(
                builder
                    .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                    .map_err(err)?
            );
        } else {
            finish!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(points: Vec<(f64, f64)>) -> Panel {
        Panel {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            log_x: false,
            series: vec![Series {
                name: String::new(),
                points,
                color: COLORS[0],
            }],
            target: None,
        }
    }

    #[test]
    fn one_scale_covers_every_panel() {
        let loud = panel(vec![(0.0, -10.0), (200.0, -8.0)]);
        let quiet = panel(vec![(0.0, -30.0), (100.0, -25.0)]);
        let (x0, x1, y0, y1) = shared_ranges(&[loud, quiet]);
        assert_eq!((x0, x1), (0.0, 200.0));
        assert!(y0 < -30.0 && y1 > -8.0, "{y0}..{y1}");
    }
}
