//! Parsing one graph file: RON into [`GraphDoc`], keeping the source text so every later
//! problem can name `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::config::ron_options;
use crate::graph::limits::{MAX_GRAPH_LINKS, MAX_GRAPH_NODES};
use crate::graph::locate::{Located, SourceMap};
use crate::problem::{Location, Problem};

/// Name of the bus a graph has when its file does not declare one.
pub const DEFAULT_BUS: &str = "main";
/// Channel count of the default bus.
pub const DEFAULT_BUS_CHANNELS: usize = 2;

/// A param value as written in a graph file: a number, a toggle, or a choice's name.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Number(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Number(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Text(v) => write!(f, "{v:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, true/false, or the name of a choice in quotes")
            }
            fn visit_f64<E>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ParamValue, E> {
                Ok(ParamValue::Number(v as f64))
            }
            fn visit_bool<E>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue::Bool(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A map that keeps the order of the file (bus order is port order; params are written
/// back in the order the user chose).
#[derive(Debug, Clone, PartialEq)]
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapV<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapV<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map like {\"name\": value}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(MapV(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph<'a> {
    #[serde(default)]
    inputs: Option<Ordered<usize>>,
    #[serde(default)]
    outputs: Option<Ordered<usize>>,
    #[serde(default, borrow)]
    nodes: Vec<RawNode<'a>>,
    #[serde(default)]
    links: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode<'a> {
    id: String,
    kind: String,
    #[serde(default, borrow)]
    config: Option<&'a ron::value::RawValue>,
    #[serde(default)]
    params: Option<Ordered<ParamValue>>,
}

/// A graph bus declared in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct BusDecl {
    pub name: String,
    pub channels: usize,
    pub at: Location,
}

/// A param value given in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    pub name: String,
    pub value: ParamValue,
    pub at: Location,
}

/// A node as declared in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDecl {
    pub id: String,
    pub kind: String,
    /// Raw RON text of `config`, as written.
    pub config: Option<String>,
    /// Where the config text starts (for positions inside it).
    pub config_at: Location,
    pub params: Vec<ParamDecl>,
    pub at: Location,
}

/// A link string as declared in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDecl {
    pub text: String,
    pub at: Location,
}

/// One parsed graph file.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphDoc {
    pub path: PathBuf,
    pub source: Arc<str>,
    pub inputs: Vec<BusDecl>,
    pub outputs: Vec<BusDecl>,
    pub nodes: Vec<NodeDecl>,
    pub links: Vec<LinkDecl>,
}

impl GraphDoc {
    /// Reads and parses a graph file. Only syntax and shape are checked here; kinds,
    /// ports and params are checked by the compiler, which reports every problem at once.
    pub fn load(path: &Path) -> Result<GraphDoc, Problem> {
        let source = super::source_file::read_source_text(path).map_err(|e| {
            let at = match e.position() {
                Some((line, col)) => Location::at(path, line, col),
                None => Location::file(path),
            };
            Problem::new(at, format!("cannot read graph file: {e}"))
        })?;
        Self::parse(path, &source)
    }

    /// Parses graph text; `path` names it in messages and anchors relative paths.
    pub fn parse(path: &Path, source: &str) -> Result<GraphDoc, Problem> {
        let raw: RawGraph<'_> = ron_options().from_str(source).map_err(|e| {
            let at = Location::at(path, e.span.start.line, e.span.start.col);
            Problem::new(at, syntax_message(&e.code)).with_help(syntax_help(&e.code))
        })?;
        for (count, limit, what) in [
            (raw.nodes.len(), MAX_GRAPH_NODES, "nodes"),
            (raw.links.len(), MAX_GRAPH_LINKS, "links"),
        ] {
            if count > limit {
                return Err(Problem::new(
                    Location::at(path, 1, 1),
                    format!("the file declares {count} {what}; the limit is {limit}"),
                ));
            }
        }
        let map = SourceMap::new(source);
        let loc = |l: Located| Location::at(path, l.line, l.col);
        let file_start = Location::at(path, 1, 1);

        let buses = |decl: Option<Ordered<usize>>, key: &str| -> Vec<BusDecl> {
            match decl {
                None => vec![BusDecl {
                    name: DEFAULT_BUS.to_string(),
                    channels: DEFAULT_BUS_CHANNELS,
                    at: file_start.clone(),
                }],
                Some(Ordered(list)) => {
                    let section = map.find_key(key, 0).unwrap_or(0);
                    list.into_iter()
                        .map(|(name, channels)| {
                            let at = map
                                .find_string(&name, section)
                                .map_or_else(|| file_start.clone(), &loc);
                            BusDecl { name, channels, at }
                        })
                        .collect()
                }
            }
        };
        let inputs = buses(raw.inputs, "inputs");
        let outputs = buses(raw.outputs, "outputs");

        let mut nodes = Vec::with_capacity(raw.nodes.len());
        let mut cursor = map.find_key("nodes", 0).unwrap_or(0);
        for node in raw.nodes {
            let node_at = map.find_id(&node.id, cursor);
            let node_offset = node_at.map_or(cursor, |l| l.offset);
            cursor = node_offset + 1;
            let at = node_at.map_or_else(|| file_start.clone(), &loc);
            let (config, config_at) = match node.config {
                Some(raw_value) => {
                    let text = raw_value.get_ron();
                    let offset = text.as_ptr() as usize - source.as_ptr() as usize;
                    (Some(text.to_string()), loc(map.locate(offset)))
                }
                None => (None, at.clone()),
            };
            // Only looked for when there are params: a miss would scan to the end of the
            // file for every node.
            let params_start = match &node.params {
                Some(_) => map.find_key("params", node_offset).unwrap_or(node_offset),
                None => node_offset,
            };
            let params = node
                .params
                .map(|Ordered(list)| list)
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| {
                    let at = map
                        .find_string(&name, params_start)
                        .map_or_else(|| at.clone(), &loc);
                    ParamDecl { name, value, at }
                })
                .collect();
            nodes.push(NodeDecl {
                id: node.id,
                kind: node.kind,
                config,
                config_at,
                params,
                at,
            });
        }

        let mut link_cursor = map.find_key("links", 0).unwrap_or(0);
        let links = raw
            .links
            .into_iter()
            .map(|text| {
                let found = map.find_string(&text, link_cursor);
                if let Some(l) = found {
                    link_cursor = l.offset + 1;
                }
                LinkDecl {
                    at: found.map_or_else(|| file_start.clone(), &loc),
                    text,
                }
            })
            .collect();

        Ok(GraphDoc {
            path: path.to_path_buf(),
            source: Arc::from(source),
            inputs,
            outputs,
            nodes,
            links,
        })
    }

    /// Folder relative paths in this file resolve from.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// The top-level fields of a graph file, for suggestions.
pub const GRAPH_FIELDS: &[&str] = &["inputs", "outputs", "nodes", "links"];
/// The fields of a node, for suggestions.
pub const NODE_FIELDS: &[&str] = &["id", "kind", "config", "params"];

fn syntax_message(code: &ron::error::Error) -> String {
    use ron::error::Error as E;
    match code {
        E::NoSuchStructField {
            found, expected, ..
        } => format!(
            "unknown field `{found}`; expected one of {}",
            expected
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        E::MissingStructField { field, .. } => format!("missing field `{field}`"),
        other => format!("syntax error: {other}"),
    }
}

fn syntax_help(code: &ron::error::Error) -> Option<String> {
    use ron::error::Error as E;
    match code {
        E::NoSuchStructField {
            found, expected, ..
        } => crate::problem::suggest(found, expected.iter().copied())
            .map(|s| format!("did you mean `{s}`?")),
        E::MissingStructField { field, .. } if *field == "kind" => {
            Some("every node needs `kind: \"...\"`; `lathe nodes` lists the kinds".into())
        }
        _ => None,
    }
}
