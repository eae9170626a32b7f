//! Builds the test CLAP plugin (`plugins/test-plugin`) from source and returns its `.clap`
//! file, for the tests of the `clap` node kind.
//!
//! The plugin is a cdylib that no test links, so nothing else makes cargo build it before
//! the tests run (`cargo test -p lathe-plugins` would not). The first test that needs it
//! runs `cargo build -p lathe-clap-test-plugin` once per test binary, with its own target
//! folder inside the one the tests were built in: the outer cargo may still hold the
//! lock of its own folder, and cargo's lock makes concurrent test binaries wait for each
//! other rather than race. The library is then copied to `lathe-test.clap` beside it, the
//! way a plugin is installed.

#![allow(dead_code)] // Each test binary uses its own subset of these.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Ids of the plugins in the test file, and the latency of the one that has it.
pub const GAIN_ID: &str = "org.lathe.test.gain";
pub const LATENCY_ID: &str = "org.lathe.test.latency";
pub const MONO_ID: &str = "org.lathe.test.mono";
pub const CRASH_ID: &str = "org.lathe.test.crash";
/// Fades in over the first `FADE_FRAMES` frames of its life, which its state counts.
pub const FADE_ID: &str = "org.lathe.test.fade";
pub const FADE_FRAMES: usize = 4800;
pub const PLUGIN_LATENCY_FRAMES: usize = 64;

/// The built `.clap` file; builds it on first use. Panics (failing the test) when the
/// build fails: the plugin is part of this repository, so it must build.
pub fn test_plugin() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build)
}

fn workspace_root() -> PathBuf {
    // plugins/ or the root package: the workspace root is where Cargo.lock is.
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("Cargo.lock").exists() {
        assert!(
            dir.pop(),
            "no Cargo.lock above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir
}

/// The target folder this test binary was built in (`<target>/<profile>/deps/test-…`).
fn outer_target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn build() -> PathBuf {
    let root = workspace_root();
    let target = outer_target_dir().join("clap-test-plugin");
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "lathe-clap-test-plugin",
            "--target-dir",
        ])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building the test CLAP plugin failed: {status}"
    );
    let built = target.join("debug").join(format!(
        "{}lathe_clap_test_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    // Copy under a unique name, then rename: other test binaries may be loading the
    // `.clap` at this moment, and a rename never changes a file someone has open.
    let installed = target.join("lathe-test.clap");
    let staging = target.join(format!("lathe-test.clap.{}", std::process::id()));
    std::fs::copy(&built, &staging).expect("copy the built plugin");
    std::fs::rename(&staging, &installed).expect("install the built plugin");
    installed
}
