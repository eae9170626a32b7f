//! A picture of a graph drawn by lathe itself, for `lathe plot graph` where Graphviz is
//! not installed: boxes in columns by their distance from the inputs, arrows for links.
//! Graphviz lays out large graphs better; this keeps `-o graph.png` honest without it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Painter, font_available, paint_file};

/// One box: its name (`in.main`, a node id, `out.main`) and the text inside it.
pub struct GraphBox {
    pub name: String,
    pub label: String,
}

/// Box size and the gaps between columns and rows, in pixels.
const BOX_W: i32 = 150;
const BOX_H: i32 = 44;
const GAP_X: i32 = 60;
const GAP_Y: i32 = 24;
const MARGIN: i32 = 20;

/// Column of each box: the longest path to it from a box without inputs.
fn columns(boxes: &[GraphBox], edges: &[(usize, usize)]) -> Vec<usize> {
    let mut column = vec![0usize; boxes.len()];
    // Longest path by relaxation; a graph is acyclic, so n rounds settle it.
    for _ in 0..boxes.len() {
        let mut changed = false;
        for &(from, to) in edges {
            if column[to] < column[from] + 1 {
                column[to] = column[from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    column
}

/// Draws `boxes` and `edges` (index pairs) to `path`, PNG or SVG by its extension.
pub fn draw_graph(path: &Path, boxes: &[GraphBox], edges: &[(usize, usize)]) -> Result<(), String> {
    let column = columns(boxes, edges);
    let mut row = vec![0usize; boxes.len()];
    let mut per_column = vec![0usize; column.iter().max().map_or(1, |c| c + 1)];
    for (i, &c) in column.iter().enumerate() {
        row[i] = per_column[c];
        per_column[c] += 1;
    }
    let rows = per_column.iter().copied().max().unwrap_or(1) as i32;
    let cols = per_column.len() as i32;
    let width = (2 * MARGIN + cols * BOX_W + (cols - 1) * GAP_X) as u32;
    let height = (2 * MARGIN + rows * BOX_H + (rows - 1) * GAP_Y) as u32;
    let at: Vec<(i32, i32)> = (0..boxes.len())
        .map(|i| {
            let c = column[i] as i32;
            // Each column centred vertically.
            let offset = (rows - per_column[column[i]] as i32) * (BOX_H + GAP_Y) / 2;
            (
                MARGIN + c * (BOX_W + GAP_X),
                MARGIN + offset + row[i] as i32 * (BOX_H + GAP_Y),
            )
        })
        .collect();
    struct Picture<'a>(&'a [GraphBox], &'a [(usize, usize)], Vec<(i32, i32)>);
    impl Painter for Picture<'_> {
        fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            draw_on(root, self.0, self.1, &self.2)
        }
    }
    paint_file(
        path,
        (width, height),
        &Picture(boxes, edges, at),
        "a graph picture",
    )
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    boxes: &[GraphBox],
    edges: &[(usize, usize)],
    at: &[(i32, i32)],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let arrow = RGBColor(80, 80, 80);
    for &(from, to) in edges {
        let (fx, fy) = (at[from].0 + BOX_W, at[from].1 + BOX_H / 2);
        let (tx, ty) = (at[to].0, at[to].1 + BOX_H / 2);
        root.draw(&PathElement::new(
            vec![(fx, fy), (tx, ty)],
            arrow.stroke_width(1),
        ))
        .map_err(err)?;
        root.draw(&Polygon::new(
            vec![(tx, ty), (tx - 9, ty - 4), (tx - 9, ty + 4)],
            arrow.filled(),
        ))
        .map_err(err)?;
    }
    let labels = font_available();
    for (b, &(x, y)) in boxes.iter().zip(at) {
        let bus = b.name.starts_with("in.") || b.name.starts_with("out.");
        let fill = if bus {
            RGBColor(222, 235, 247)
        } else {
            RGBColor(245, 245, 245)
        };
        root.draw(&Rectangle::new(
            [(x, y), (x + BOX_W, y + BOX_H)],
            fill.filled(),
        ))
        .map_err(err)?;
        root.draw(&Rectangle::new(
            [(x, y), (x + BOX_W, y + BOX_H)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        if labels {
            for (k, line) in b.label.lines().take(2).enumerate() {
                root.draw(&Text::new(
                    line.to_string(),
                    (x + 8, y + 6 + 18 * k as i32),
                    ("sans-serif", 14).into_font(),
                ))
                .map_err(err)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> Vec<GraphBox> {
        names
            .iter()
            .map(|n| GraphBox {
                name: n.to_string(),
                label: n.to_string(),
            })
            .collect()
    }

    ///   in -> a -> b -> out
    ///          \------/
    #[test]
    fn columns_follow_the_longest_path() {
        let boxes = named(&["in.main", "a", "b", "out.main"]);
        let edges = [(0, 1), (1, 2), (2, 3), (1, 3)];
        assert_eq!(columns(&boxes, &edges), vec![0, 1, 2, 3]);
    }

    #[test]
    fn draws_png_and_svg() {
        let dir = tempfile::tempdir().expect("temp dir");
        let boxes = named(&["in.main", "a", "out.main"]);
        for name in ["g.png", "g.svg"] {
            let path = dir.path().join(name);
            draw_graph(&path, &boxes, &[(0, 1), (1, 2)]).expect("drawn");
            assert!(std::fs::metadata(&path).expect("written").len() > 100);
        }
    }
}
