//! The match as a graph file: `in -> match_eq -> match_width -> match_gain -> out`, each
//! an ordinary node (an `eq`, an `eq` of side-only bells, a `gain`) that can be edited,
//! bypassed and automated; and the in-memory render of a mix through it, which the
//! loudness match measures.

use std::fmt::Write as _;
use std::path::Path;

use lathe_engine::offline::GraphRender;
use lathe_engine::{CompileOptions, GraphDoc, PrepareInfo, compile};

use super::fit::{Band, type_name};
use crate::audio_io::Audio;

/// Block size of the in-memory render (any size gives the same output).
const RENDER_BLOCK_FRAMES: usize = 1024;

/// What the match graph holds.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub channels: usize,
    pub eq: Vec<Band>,
    /// Side-only bells (stereo only; empty: no width node).
    pub width: Vec<Band>,
    pub gain_db: f64,
}

/// One `eq` node as RON, indented for a graph's node list; `channel` is written on every
/// band when given (`"side"`).
pub fn eq_node(id: &str, bands: &[Band], channels: usize, channel: Option<&str>) -> String {
    let mut out = String::new();
    let types: Vec<String> = bands
        .iter()
        .map(|b| match channel {
            Some(c) => format!("(type: \"{}\", channel: \"{c}\")", type_name(b.kind)),
            None => format!("(type: \"{}\")", type_name(b.kind)),
        })
        .collect();
    let _ = writeln!(out, "(\n    id: \"{id}\",\n    kind: \"eq\",");
    let _ = writeln!(out, "    config: (channels: {channels}, bands: [");
    for t in types {
        let _ = writeln!(out, "        {t},");
    }
    let _ = writeln!(out, "    ]),\n    params: {{");
    for (k, b) in bands.iter().enumerate() {
        let n = k + 1;
        let _ = writeln!(
            out,
            "        \"band{n}.freq_hz\": {:.1}, \"band{n}.gain_db\": {:.2}, \"band{n}.q\": {:.3},",
            b.freq_hz, b.gain_db, b.q
        );
    }
    out.push_str("    },\n)");
    out
}

impl Chain {
    /// The whole graph file, with `header` as `//` comment lines on top.
    pub fn graph_text(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            let _ = writeln!(out, "// {line}");
        }
        let c = self.channels;
        out.push_str("(\n");
        if c != 2 {
            let _ = writeln!(
                out,
                "    inputs: {{\"main\": {c}}},\n    outputs: {{\"main\": {c}}},"
            );
        }
        out.push_str("    nodes: [\n");
        let mut ids = Vec::new();
        let indent =
            |node: String| -> String { node.lines().map(|l| format!("        {l}\n")).collect() };
        out.push_str(&indent(eq_node("match_eq", &self.eq, c, None) + ","));
        ids.push("match_eq");
        if !self.width.is_empty() {
            out.push_str(&indent(
                eq_node("match_width", &self.width, c, Some("side")) + ",",
            ));
            ids.push("match_width");
        }
        let _ = writeln!(
            out,
            "        (id: \"match_gain\", kind: \"gain\", config: (channels: {c}), params: {{\"gain_db\": {:.3}}}),",
            self.gain_db
        );
        ids.push("match_gain");
        let _ = writeln!(
            out,
            "    ],\n    links: [\"in -> {} -> out\"],\n)",
            ids.join(" -> ")
        );
        out
    }

    /// Renders `mix` through the graph of this chain in memory, as `lathe render` would.
    pub fn render(&self, mix: &Audio) -> anyhow::Result<Audio> {
        let text = self.graph_text("");
        let doc = GraphDoc::parse(Path::new("match.ron"), &text)
            .map_err(|e| anyhow::anyhow!("the match graph does not parse: {e}"))?;
        let rate_hz = f64::from(mix.sample_rate_hz);
        let options =
            CompileOptions::new(PrepareInfo::new(rate_hz, RENDER_BLOCK_FRAMES).for_offline());
        let compiled = compile(&doc, &lathe_host::registry(), &options)
            .map_err(|e| anyhow::anyhow!("the match graph does not compile: {e}"))?;
        let mut render = GraphRender::new(compiled, lathe_host::RENDER_CHUNK_FRAMES);
        let channels = render.render(mix.channels.clone(), mix.frames(), |_| {});
        render.finish();
        Ok(Audio {
            sample_rate_hz: mix.sample_rate_hz,
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_nodes::dsp::biquad::FilterType;

    #[test]
    fn the_graph_text_compiles_and_a_gain_alone_scales_the_signal() {
        let chain = Chain {
            channels: 2,
            eq: vec![Band {
                kind: FilterType::Bell,
                freq_hz: 1000.0,
                gain_db: 0.0,
                q: 1.0,
            }],
            width: vec![Band {
                kind: FilterType::Bell,
                freq_hz: 4000.0,
                gain_db: 0.0,
                q: 1.0,
            }],
            gain_db: 6.0,
        };
        let mix = Audio {
            sample_rate_hz: 48_000,
            channels: vec![vec![0.25; 4800], vec![-0.125; 4800]],
        };
        let out = chain.render(&mix).expect("renders");
        let g = 10f32.powf(6.0 / 20.0);
        assert!((out.channels[0][4000] - 0.25 * g).abs() < 1e-4);
        assert!((out.channels[1][4000] + 0.125 * g).abs() < 1e-4);
        let text = chain.graph_text("a\nb");
        assert!(text.starts_with("// a\n// b\n("), "{text}");
        assert!(text.contains("\"in -> match_eq -> match_width -> match_gain -> out\""));
    }
}
