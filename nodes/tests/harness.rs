//! Every node kind of this crate through the shared engine harness: each registered kind
//! with its default config (so a new kind is covered the day it is registered), then
//! kind-specific cases.

use lathe_engine::harness::{Case, HARNESS_MAX_BLOCK, HARNESS_RATE_HZ, LatencyCheck, check_kind};
use lathe_engine::{NodeConfig, NodeKind, PrepareInfo};

mod common;
use common::build_context;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Kinds whose default-config output is not an impulse response peaking at the declared
/// latency, with why. Their latency is checked by their own tests.
const LATENCY_NOT_AN_IMPULSE_PEAK: &[(&str, &str)] = &[(
    "crossover",
    "output 1 is the low band: an LR4 low pass smears the impulse, its peak comes late",
)];

/// Kinds that cannot run with an empty config, with why. None today: every kind must
/// accept an empty config so `lathe nodes` can describe it.
const NEEDS_A_CONFIG: &[(&str, &str)] = &[];

fn latency_check(kind: &dyn NodeKind) -> LatencyCheck {
    if LATENCY_NOT_AN_IMPULSE_PEAK
        .iter()
        .any(|(name, _)| *name == kind.name())
    {
        return LatencyCheck::Skip;
    }
    let ctx = build_context(
        PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK),
        "probe",
    );
    let spec = kind
        .build(&NodeConfig::empty(), &ctx)
        .unwrap_or_else(|e| panic!("{}: the default config must build: {e}", kind.name()))
        .spec;
    // A source has no input to send an impulse through.
    if spec.inputs.is_empty() {
        LatencyCheck::Skip
    } else {
        LatencyCheck::ImpulsePeak
    }
}

#[test]
fn every_registered_kind_passes_harness_with_its_default_config() {
    let registry = lathe_nodes::registry();
    let mut checked = 0;
    for kind in registry.kinds() {
        let kind = kind.as_ref();
        if NEEDS_A_CONFIG.iter().any(|(name, _)| *name == kind.name()) {
            continue;
        }
        check_kind(&Case::new(kind).latency(latency_check(kind)));
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} kinds registered");
}

#[test]
fn gain_passes_harness() {
    check_kind(&Case::new(&lathe_nodes::kinds::gain::GainKind).params(&[("gain_db", -6.0)]));
    check_kind(&Case::new(&lathe_nodes::kinds::gain::GainKind).config("(channels: 1)"));
}
