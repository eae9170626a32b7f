//! Catalogues: thousands of albums mastered as array jobs on a batch scheduler
//! (`lathe catalog`). The catalogue file lists the tracks ([`rows`]); [`plan`] checks it
//! whole and picks this task's units by a stable hash ([`shard`]); outputs are named by
//! a [`template`]; every finished unit is one durable line of the task's [`manifest`],
//! which reruns read to skip what is done; [`report`] merges the manifests.

pub mod bounded_read;
pub mod manifest;
pub mod plan;
pub mod report;
pub mod rows;
pub mod shard;
pub mod template;

/// Exit code of a run in which some units failed and the others were delivered (and of
/// `status`/`merge` when a unit failed): a scheduler can tell it from a crash (1), a bad
/// invocation (2) or a kill by signal (128 + n) and need not retry the task.
pub const EXIT_PARTIAL: u8 = 3;
/// Exit code of `status`/`merge` when nothing failed but some units are not done yet.
pub const EXIT_PENDING: u8 = 4;
