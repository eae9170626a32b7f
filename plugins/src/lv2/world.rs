//! The process's one lilv world: every installed LV2 plugin, read once, and what lathe
//! makes of a plugin's ports (audio buses, params, meters, the latency port).
//!
//! lilv is not thread-safe, so the world sits behind a mutex; it is only locked off the
//! audio thread (building a node, listing plugins, freeing an instance).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use lathe_engine::problem::edit_distance;

use super::lilv::{Api, LilvColl, LilvNode, LilvPlugin, LilvPort, LilvWorld};
use crate::info::{AudioPortInfo, ParamInfo, PluginFormat, PluginInfo};

const LV2: &str = "http://lv2plug.in/ns/lv2core#";
const UNITS: &str = "http://lv2plug.in/ns/extensions/units#";

/// Why the LV2 host could not give what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Lv2Error {
    #[error("LV2 plugins need liblilv at run time: {0}")]
    NoLilv(String),
    #[error("no LV2 plugin `{uri}` is installed{hint}")]
    UnknownUri { uri: String, hint: String },
    #[error("LV2 bundle `{}` does not exist (or holds no manifest.ttl)", .0.display())]
    MissingBundle(PathBuf),
    #[error(
        "LV2 plugin `{uri}` requires the host feature `{feature}`, which lathe does not provide (it provides: {provided})"
    )]
    UnsupportedFeature {
        uri: String,
        feature: String,
        provided: String,
    },
    #[error("LV2 plugin `{uri}` failed to instantiate at {sample_rate_hz} Hz")]
    Instantiate { uri: String, sample_rate_hz: f64 },
    #[error(
        "LV2 plugin `{uri}`: port `{symbol}` is of a type lathe cannot connect and is not optional"
    )]
    UnsupportedPort { uri: String, symbol: String },
}

/// What lathe does with one port of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    AudioIn {
        sidechain: bool,
    },
    AudioOut,
    ControlIn,
    ControlOut,
    AtomIn,
    AtomOut,
    CvIn,
    CvOut,
    /// A port of another type marked `connectionOptional`: connected to nothing.
    Unconnected,
}

#[derive(Debug, Clone)]
pub struct PortModel {
    pub index: u32,
    pub symbol: String,
    pub role: PortRole,
    /// Range, default, unit and choices of a control port.
    pub control: Option<ParamInfo>,
}

/// A plugin as lathe maps it: its discovery record plus every port in index order.
#[derive(Debug, Clone)]
pub struct PluginModel {
    pub info: PluginInfo,
    pub ports: Vec<PortModel>,
    /// The control output that reports latency (`lv2:reportsLatency`).
    pub latency_port: Option<u32>,
    pub required_features: Vec<String>,
}

/// Class and property URIs, made once.
struct Uris {
    input: *mut LilvNode,
    audio: *mut LilvNode,
    control: *mut LilvNode,
    atom: *mut LilvNode,
    cv: *mut LilvNode,
    sidechain: *mut LilvNode,
    toggled: *mut LilvNode,
    integer: *mut LilvNode,
    enumeration: *mut LilvNode,
    optional: *mut LilvNode,
    reports_latency: *mut LilvNode,
    unit: *mut LilvNode,
}

pub struct World {
    pub api: Api,
    world: *mut LilvWorld,
    uris: Uris,
}

// SAFETY: the world is only used behind the mutex of `world()`.
unsafe impl Send for World {}

static WORLD: OnceLock<Result<Mutex<World>, String>> = OnceLock::new();

/// The lilv world with every installed plugin loaded (LV2_PATH or lilv's default
/// folders), created on first use.
pub fn world() -> Result<MutexGuard<'static, World>, Lv2Error> {
    let world = WORLD.get_or_init(|| World::load().map(Mutex::new));
    match world {
        Ok(m) => Ok(m.lock().unwrap_or_else(|e| e.into_inner())),
        Err(e) => Err(Lv2Error::NoLilv(e.clone())),
    }
}

impl World {
    fn load() -> Result<Self, String> {
        let api = Api::open()?;
        // SAFETY: plain lilv calls on the world they create.
        let world = unsafe { (api.lilv_world_new)() };
        if world.is_null() {
            return Err("lilv_world_new failed".to_string());
        }
        unsafe { (api.lilv_world_load_all)(world) };
        let u = |s: &str| api.uri(world, s);
        let uris = Uris {
            input: u(&format!("{LV2}InputPort")),
            audio: u(&format!("{LV2}AudioPort")),
            control: u(&format!("{LV2}ControlPort")),
            atom: u("http://lv2plug.in/ns/ext/atom#AtomPort"),
            cv: u(&format!("{LV2}CVPort")),
            sidechain: u(&format!("{LV2}isSideChain")),
            toggled: u(&format!("{LV2}toggled")),
            integer: u(&format!("{LV2}integer")),
            enumeration: u(&format!("{LV2}enumeration")),
            optional: u(&format!("{LV2}connectionOptional")),
            reports_latency: u(&format!("{LV2}reportsLatency")),
            unit: u(&format!("{UNITS}unit")),
        };
        Ok(Self { api, world, uris })
    }

    /// Loads one more bundle (a folder holding `manifest.ttl`).
    pub fn load_bundle(&mut self, path: &Path) -> Result<(), Lv2Error> {
        let dir = if path.is_dir() { path } else { Path::new("") };
        if !dir.join("manifest.ttl").is_file() {
            return Err(Lv2Error::MissingBundle(path.to_path_buf()));
        }
        let mut text = dir.to_string_lossy().into_owned();
        if !text.ends_with('/') {
            text.push('/');
        }
        let c = CString::new(text).map_err(|_| Lv2Error::MissingBundle(path.to_path_buf()))?;
        // SAFETY: the world is live; lilv copies the path and frees nothing of ours.
        unsafe {
            let node = (self.api.lilv_new_file_uri)(self.world, std::ptr::null(), c.as_ptr());
            (self.api.lilv_world_load_bundle)(self.world, node);
            (self.api.lilv_node_free)(node);
        }
        Ok(())
    }

    fn plugins(&self) -> *const LilvColl {
        // SAFETY: the world is live.
        unsafe { (self.api.lilv_world_get_all_plugins)(self.world) }
    }

    /// Every installed plugin, in lilv's (URI) order.
    pub fn all(&self) -> Vec<*const LilvPlugin> {
        let api = &self.api;
        let coll = self.plugins();
        let mut out = Vec::new();
        // SAFETY: iteration over the world's collection, as lilv documents it.
        unsafe {
            let mut it = (api.lilv_plugins_begin)(coll);
            while !(api.lilv_plugins_is_end)(coll, it) {
                out.push((api.lilv_plugins_get)(coll, it));
                it = (api.lilv_plugins_next)(coll, it);
            }
        }
        out
    }

    pub fn plugin_uri(&self, plugin: *const LilvPlugin) -> String {
        // SAFETY: a plugin of this world.
        self.api
            .node_string(unsafe { (self.api.lilv_plugin_get_uri)(plugin) })
    }

    pub fn plugin_name(&self, plugin: *const LilvPlugin) -> String {
        // SAFETY: a plugin of this world; the name node is ours to free.
        unsafe {
            let node = (self.api.lilv_plugin_get_name)(plugin);
            let name = self.api.node_string(node);
            (self.api.lilv_node_free)(node);
            name
        }
    }

    /// The plugin with this URI, or an error listing the closest installed URIs.
    pub fn find(&self, uri: &str) -> Result<*const LilvPlugin, Lv2Error> {
        let node = self.api.uri(self.world, uri);
        // SAFETY: the world's collection and a node we free right after.
        let plugin = unsafe {
            let p = (self.api.lilv_plugins_get_by_uri)(self.plugins(), node);
            (self.api.lilv_node_free)(node);
            p
        };
        if !plugin.is_null() {
            return Ok(plugin);
        }
        let uris: Vec<String> = self.all().into_iter().map(|p| self.plugin_uri(p)).collect();
        let near = closest_uris(uri, &uris, 3);
        let hint = if near.is_empty() {
            format!(
                " ({} LV2 plugins are installed; `lathe plugins` lists them)",
                uris.len()
            )
        } else {
            format!(" (closest: {}; `lathe plugins` lists all)", near.join(", "))
        };
        Err(Lv2Error::UnknownUri {
            uri: uri.to_string(),
            hint,
        })
    }

    /// What lathe makes of `plugin`'s ports.
    pub fn describe(&self, plugin: *const LilvPlugin) -> PluginModel {
        let api = &self.api;
        let u = &self.uris;
        let uri = self.plugin_uri(plugin);
        // SAFETY: every call reads a plugin and ports of this world; nodes the caller owns
        // are freed after use.
        unsafe {
            let name = self.plugin_name(plugin);
            let bundle_path = api.node_path((api.lilv_plugin_get_bundle_uri)(plugin));
            let required_features = self.node_list((api.lilv_plugin_get_required_features)(plugin));
            let mut ports = Vec::new();
            let mut latency_port = None;
            for index in 0..(api.lilv_plugin_get_num_ports)(plugin) {
                let port = (api.lilv_plugin_get_port_by_index)(plugin, index);
                let is = |class: *mut LilvNode| (api.lilv_port_is_a)(plugin, port, class);
                let has = |prop: *mut LilvNode| (api.lilv_port_has_property)(plugin, port, prop);
                let symbol = api.node_string((api.lilv_port_get_symbol)(plugin, port));
                let input = is(u.input);
                let role = if is(u.audio) {
                    if input {
                        PortRole::AudioIn {
                            sidechain: has(u.sidechain),
                        }
                    } else {
                        PortRole::AudioOut
                    }
                } else if is(u.control) {
                    if input {
                        PortRole::ControlIn
                    } else {
                        PortRole::ControlOut
                    }
                } else if is(u.atom) {
                    if input {
                        PortRole::AtomIn
                    } else {
                        PortRole::AtomOut
                    }
                } else if is(u.cv) {
                    if input {
                        PortRole::CvIn
                    } else {
                        PortRole::CvOut
                    }
                } else {
                    PortRole::Unconnected
                };
                let control = matches!(role, PortRole::ControlIn | PortRole::ControlOut)
                    .then(|| self.control_info(plugin, port, &symbol));
                if role == PortRole::ControlOut && has(u.reports_latency) {
                    latency_port = Some(index);
                }
                ports.push(PortModel {
                    index,
                    symbol,
                    role,
                    control,
                });
            }
            let mut info = plugin_info(uri, name, bundle_path, &ports);
            info.reports_latency = latency_port.is_some();
            // Without a latency port the plugin adds none: known without running it.
            if latency_port.is_none() {
                info.latency_frames = Some(0);
            }
            PluginModel {
                info,
                ports,
                latency_port,
                required_features,
            }
        }
    }

    /// Is a port of an unknown type allowed to stay unconnected?
    pub fn port_optional(&self, plugin: *const LilvPlugin, index: u32) -> bool {
        // SAFETY: a port index below the plugin's port count.
        unsafe {
            let port = (self.api.lilv_plugin_get_port_by_index)(plugin, index);
            (self.api.lilv_port_has_property)(plugin, port, self.uris.optional)
        }
    }

    unsafe fn control_info(
        &self,
        plugin: *const LilvPlugin,
        port: *const LilvPort,
        symbol: &str,
    ) -> ParamInfo {
        let api = &self.api;
        let u = &self.uris;
        // SAFETY: as in `describe`.
        unsafe {
            let name_node = (api.lilv_port_get_name)(plugin, port);
            let name = api.node_string(name_node);
            (api.lilv_node_free)(name_node);
            let (mut def, mut min, mut max) = (
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            (api.lilv_port_get_range)(plugin, port, &mut def, &mut min, &mut max);
            let [def_v, min_v, max_v] = [def, min, max].map(|n| {
                let v = api.node_number(n);
                if !n.is_null() {
                    (api.lilv_node_free)(n);
                }
                v
            });
            let toggle = (api.lilv_port_has_property)(plugin, port, u.toggled);
            let integer = (api.lilv_port_has_property)(plugin, port, u.integer);
            let min = min_v.unwrap_or(0.0) as f64;
            let max = max_v.unwrap_or(if toggle {
                1.0
            } else {
                min.max(0.0) as f32 + 1.0
            }) as f64;
            let default = def_v
                .map(f64::from)
                .unwrap_or(min)
                .clamp(min.min(max), max.max(min));
            let mut choices = Vec::new();
            if (api.lilv_port_has_property)(plugin, port, u.enumeration) {
                let points = (api.lilv_port_get_scale_points)(plugin, port);
                if !points.is_null() {
                    let mut it = (api.lilv_scale_points_begin)(points);
                    while !(api.lilv_scale_points_is_end)(points, it) {
                        let p = (api.lilv_scale_points_get)(points, it);
                        let value = api.node_number((api.lilv_scale_point_get_value)(p));
                        let label = api.node_string((api.lilv_scale_point_get_label)(p));
                        if let Some(v) = value {
                            choices.push((v as f64, label));
                        }
                        it = (api.lilv_scale_points_next)(points, it);
                    }
                    (api.lilv_scale_points_free)(points);
                }
                choices.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            let units = self.node_list((api.lilv_port_get_value)(plugin, port, u.unit));
            let unit = units
                .first()
                .map(|uri| uri.strip_prefix(UNITS).unwrap_or(uri).to_string());
            ParamInfo {
                symbol: symbol.to_string(),
                name,
                min,
                max,
                default,
                unit,
                choices,
                integer,
                toggle,
            }
        }
    }

    /// The text of every node of a node collection, which is then freed.
    unsafe fn node_list(&self, nodes: *mut LilvColl) -> Vec<String> {
        let api = &self.api;
        let mut out = Vec::new();
        if nodes.is_null() {
            return out;
        }
        // SAFETY: a collection lilv handed over to us.
        unsafe {
            let mut it = (api.lilv_nodes_begin)(nodes);
            while !(api.lilv_nodes_is_end)(nodes, it) {
                out.push(api.node_string((api.lilv_nodes_get)(nodes, it)));
                it = (api.lilv_nodes_next)(nodes, it);
            }
            (api.lilv_nodes_free)(nodes);
        }
        out
    }
}

/// The lathe ports a plugin's audio ports become: `in` (main inputs), `sidechain`, `out`.
fn plugin_info(uri: String, name: String, bundle_path: PathBuf, ports: &[PortModel]) -> PluginInfo {
    let count = |f: &dyn Fn(PortRole) -> bool| ports.iter().filter(|p| f(p.role)).count();
    let main_in = count(&|r| r == PortRole::AudioIn { sidechain: false });
    let side_in = count(&|r| r == PortRole::AudioIn { sidechain: true });
    let outs = count(&|r| r == PortRole::AudioOut);
    let bus = |name: &str, channels: usize, sidechain: bool| {
        (channels > 0).then(|| AudioPortInfo {
            name: name.to_string(),
            channels,
            sidechain,
        })
    };
    let controls = |role: PortRole| -> Vec<ParamInfo> {
        ports
            .iter()
            .filter(|p| p.role == role)
            .filter_map(|p| p.control.clone())
            .collect()
    };
    PluginInfo {
        format: PluginFormat::Lv2,
        id: uri,
        name,
        bundle_path,
        audio_inputs: [bus("in", main_in, false), bus("sidechain", side_in, true)]
            .into_iter()
            .flatten()
            .collect(),
        audio_outputs: bus("out", outs, false).into_iter().collect(),
        params: controls(PortRole::ControlIn),
        meters: controls(PortRole::ControlOut),
        latency_frames: None,
        reports_latency: false,
    }
}

/// Up to `n` installed URIs nearest to `uri`: first those sharing its last path segment,
/// then by edit distance.
pub fn closest_uris(uri: &str, known: &[String], n: usize) -> Vec<String> {
    let tail = |s: &str| {
        s.rsplit(['/', '#'])
            .next()
            .unwrap_or(s)
            .to_ascii_lowercase()
    };
    let want = tail(uri);
    let mut scored: Vec<(usize, &String)> = known
        .iter()
        .map(|k| {
            let d = edit_distance(uri, k).min(edit_distance(&want, &tail(k)) * 2);
            (d, k)
        })
        .filter(|(d, k)| *d <= (k.len() / 3).max(4))
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(n)
        .map(|(_, k)| format!("`{k}`"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_uris_favour_the_same_plugin_name() {
        let known: Vec<String> = [
            "http://gareus.org/oss/lv2/dpl#mono",
            "http://gareus.org/oss/lv2/dpl#stereo",
            "http://lsp-plug.in/plugins/lv2/limiter_stereo",
        ]
        .map(String::from)
        .to_vec();
        let near = closest_uris("http://gareus.org/oss/lv2/dpl#stereoo", &known, 3);
        assert_eq!(near[0], "`http://gareus.org/oss/lv2/dpl#stereo`");
        assert!(closest_uris("urn:nothing-like-it", &known, 3).is_empty());
    }
}
