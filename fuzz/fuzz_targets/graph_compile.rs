//! The graph loader and compiler: any bytes as a graph file must give a graph or located
//! problems, never a panic, a hang or unbounded memory.
#![no_main]

use lathe_engine::{CompileOptions, GraphDoc, PrepareInfo, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = GraphDoc::parse(std::path::Path::new("fuzz.ron"), text) else {
        return;
    };
    let registry = lathe_host::registry();
    let options = CompileOptions::new(PrepareInfo::new(48_000.0, 256));
    let _ = compile(&doc, &registry, &options);
});
