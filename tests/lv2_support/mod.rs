//! Shared by the tests that load every shipped graph: a graph that names LV2 plugins is
//! skipped with a notice where they (or liblilv) are missing, and fails the test instead
//! under `LATHE_REQUIRE_LV2=1`, as CI sets.

/// The LV2 plugins a shipped graph names are installed (with liblilv): otherwise the graph
/// is skipped with a notice, or the test fails under `LATHE_REQUIRE_LV2=1`.
pub fn lv2_plugins_present(name: &str, text: &str) -> bool {
    let uris: Vec<&str> = text
        .split("uri: \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    if uris.is_empty() {
        return true;
    }
    let missing = match lathe_plugins::lv2::installed(&uris) {
        Ok(missing) if missing.is_empty() => return true,
        Ok(missing) => format!("LV2 plugins not installed: {}", missing.join(", ")),
        Err(e) => e.to_string(),
    };
    assert!(
        std::env::var("LATHE_REQUIRE_LV2").as_deref() != Ok("1"),
        "{name}: {missing} (LATHE_REQUIRE_LV2=1)"
    );
    eprintln!("SKIPPED {name}: {missing}");
    false
}
