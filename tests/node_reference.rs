//! docs/nodes.md is the node reference for users; it is generated from `lathe nodes`, so
//! it can never drift from the registry. Run with LATHE_BLESS=1 to regenerate it.

use std::process::Command;

const LATHE: &str = env!("CARGO_BIN_EXE_lathe");

fn lathe_nodes(args: &[&str]) -> String {
    let out = Command::new(LATHE)
        .arg("nodes")
        .args(args)
        .output()
        .expect("lathe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn reference() -> String {
    let listing = lathe_nodes(&[]);
    let mut doc = String::from(
        "# Node reference\n\n\
         Generated from `lathe nodes` (run `LATHE_BLESS=1 cargo test --test node_reference` \
         to refresh). Every node also has the `bypass` param. Param paths are \
         `NODE_ID.PARAM`, meters `NODE_ID.METER`.\n\n```text\n",
    );
    doc.push_str(&listing);
    doc.push_str("```\n");
    for line in listing.lines().skip(1) {
        let Some(kind) = line.split_whitespace().next() else {
            continue;
        };
        doc.push_str(&format!(
            "\n## {kind}\n\n```text\n{}```\n",
            lathe_nodes(&[kind])
        ));
    }
    doc
}

#[test]
fn node_reference_matches_the_registry() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/nodes.md");
    let fresh = reference();
    if std::env::var_os("LATHE_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write docs/nodes.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == fresh,
        "docs/nodes.md is stale: run LATHE_BLESS=1 cargo test --test node_reference"
    );
}
