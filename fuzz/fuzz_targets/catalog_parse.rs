//! The catalogue of `lathe catalog`, its output template and the task manifests: any
//! bytes are a plan or a list of problems, and any manifest line a record or a torn line.
//!
//! Input: one byte of options (bit 0: JSON Lines instead of CSV; bit 1: track mode;
//! bit 2: `--sanitize`; bits 3-4: the shard count less one), then the output template up
//! to the first line break, then the catalogue.
#![no_main]

use lathe::album::preset::Preset;
use lathe::album::shard::Shard;
use lathe::catalog::plan::{PlanOptions, plan};
use lathe::catalog::template::{DEFAULT_TEMPLATE, Template};
use lathe::cli::{AlbumMode, DeliveryFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (template, catalogue) = rest.split_at(split);
    let catalogue = catalogue.get(1..).unwrap_or_default();
    let template = Template::parse(&String::from_utf8_lossy(template))
        .unwrap_or_else(|_| Template::parse(DEFAULT_TEMPLATE).expect("the default parses"));

    let dir = tempfile::tempdir().expect("a temporary folder");
    let name = if options & 1 == 0 {
        "catalogue.csv"
    } else {
        "catalogue.jsonl"
    };
    let path = dir.path().join(name);
    std::fs::write(&path, catalogue).expect("written");
    let preset = Preset::plain();
    let count = usize::from((options >> 3) & 3) + 1;
    for index in 0..count {
        let _ = plan(&PlanOptions {
            catalogue: &path,
            template: Some(&template),
            sanitize: options & 4 != 0,
            mode: if options & 2 == 0 {
                AlbumMode::Album
            } else {
                AlbumMode::Track
            },
            format: DeliveryFormat::Wav,
            preset: &preset,
            target_lufs: None,
            shard: Shard { index, count },
            out_dir: &dir.path().join("delivery"),
            protected: vec![("catalogue", path.clone())],
        });
    }

    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).expect("a folder");
    std::fs::write(manifests.join("task-0000.jsonl"), catalogue).expect("written");
    let _ = lathe::catalog::manifest::read_latest(&manifests);
});
