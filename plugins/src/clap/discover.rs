//! Finding installed CLAP plugins: every `.clap` file under the CLAP search paths, and
//! what each plugin in it says about itself (ports, params, latency once active).
//!
//! Discovery loads each file and creates each plugin, as any CLAP host scanner does; a
//! file or plugin that fails is left out with a warning, never a failure of the listing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::info::{AudioPortInfo, ParamInfo, PluginFormat, PluginInfo};

use super::instance::{ClapInstance, PluginParam, PluginPort};
use super::library::ClapLibrary;
use super::params::symbol;

/// Rate and largest block discovery activates plugins at to ask their latency.
const PROBE_RATE_HZ: f64 = 48_000.0;
const PROBE_MAX_BLOCK: u32 = 1024;
/// How deep discovery looks below a search path.
const MAX_DEPTH: usize = 4;

/// The folders searched, in order: each of `CLAP_PATH` (`:`-separated), then `~/.clap`,
/// `/usr/lib/clap` and `/usr/local/lib/clap`, as the CLAP standard lists them for Linux.
pub fn search_paths() -> Vec<PathBuf> {
    search_paths_from(std::env::var_os("CLAP_PATH"), std::env::var_os("HOME"))
}

/// [`search_paths`] for these values of `CLAP_PATH` and `HOME`.
pub fn search_paths_from(clap_path: Option<OsString>, home: Option<OsString>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = clap_path
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = home {
        paths.push(PathBuf::from(home).join(".clap"));
    }
    paths.push(PathBuf::from("/usr/lib/clap"));
    paths.push(PathBuf::from("/usr/local/lib/clap"));
    paths
}

/// Every plugin of every `.clap` file under [`search_paths`], in path order. A file found
/// through two search paths is listed once.
pub fn discover() -> Vec<PluginInfo> {
    discover_in(&search_paths())
}

/// [`discover`] under these folders.
pub fn discover_in(dirs: &[PathBuf]) -> Vec<PluginInfo> {
    let mut files = Vec::new();
    for dir in dirs {
        find_clap_files(dir, 0, &mut files);
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    files.iter().flat_map(|f| describe_file(f)).collect()
}

fn find_clap_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_file() && path.extension().is_some_and(|e| e == "clap") {
            out.push(path);
        } else if path.is_dir() && depth < MAX_DEPTH {
            find_clap_files(&path, depth + 1, out);
        }
    }
}

/// Every plugin in one `.clap` file; none (with a warning) when it does not load.
pub fn describe_file(path: &Path) -> Vec<PluginInfo> {
    let library = match ClapLibrary::open(path) {
        Ok(lib) => lib,
        Err(e) => {
            tracing::warn!("skipping {}: {e}", path.display());
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for descriptor in library.descriptors() {
        let mut instance = match ClapInstance::create(library.clone(), &descriptor.id) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!("skipping {} in {}: {e}", descriptor.id, path.display());
                continue;
            }
        };
        let params = instance.params();
        let inputs = instance.audio_ports(true);
        let outputs = instance.audio_ports(false);
        let latency_frames = instance
            .activate(PROBE_RATE_HZ, PROBE_MAX_BLOCK)
            .ok()
            .map(|()| instance.latency_frames());
        out.push(PluginInfo {
            format: PluginFormat::Clap,
            id: descriptor.id.clone(),
            name: descriptor.name.clone(),
            bundle_path: path.to_path_buf(),
            audio_inputs: port_infos(&inputs, "in", true),
            audio_outputs: port_infos(&outputs, "out", false),
            params: param_infos(&params),
            meters: Vec::new(),
            reports_latency: instance.has_latency_extension(),
            latency_frames,
        });
    }
    out
}

fn port_infos(ports: &[PluginPort], main_name: &str, inputs: bool) -> Vec<AudioPortInfo> {
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| AudioPortInfo {
            name: if i == 0 {
                main_name.to_string()
            } else {
                symbol(&p.name, i as u32)
            },
            channels: p.channels,
            sidechain: inputs && i > 0,
        })
        .collect()
}

fn param_infos(params: &[PluginParam]) -> Vec<ParamInfo> {
    let (specs, _) = super::params::map_params(params);
    params
        .iter()
        .zip(specs)
        .map(|(p, spec)| ParamInfo {
            symbol: spec.name,
            name: p.name.clone(),
            min: p.min,
            max: p.max,
            default: p.default,
            unit: Some(spec.unit.label())
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            choices: p
                .value_names
                .iter()
                .enumerate()
                .map(|(k, n)| (p.min.round() + k as f64, n.clone()))
                .collect(),
            integer: p.stepped,
            toggle: spec.unit == lathe_engine::Unit::Toggle,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_path_comes_first_then_the_standard_folders() {
        let paths = search_paths_from(Some("/a:/b/c".into()), Some("/home/u".into()));
        let expected: Vec<PathBuf> = [
            "/a",
            "/b/c",
            "/home/u/.clap",
            "/usr/lib/clap",
            "/usr/local/lib/clap",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(paths, expected);
        assert_eq!(search_paths_from(None, None).len(), 2);
    }
}
