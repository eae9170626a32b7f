//! Every node kind of this crate through the shared engine harness.

use lathe_engine::harness::{Case, check_kind};

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

#[test]
fn gain_passes_harness() {
    check_kind(&Case::new(&lathe_nodes::kinds::gain::GainKind).params(&[("gain_db", -6.0)]));
    check_kind(&Case::new(&lathe_nodes::kinds::gain::GainKind).config("(channels: 1)"));
}
