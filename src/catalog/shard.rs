//! Which slice of a catalogue this task renders: `--shard I/N` given literally, or
//! `--shard auto` read from the array-job variables of Slurm, AWS Batch or a Kubernetes
//! Indexed Job; and the stable hash that assigns a unit to a slice, so adding rows to a
//! catalogue never moves units that were already assigned (for the same N).

use sha2::{Digest, Sha256};

use crate::album::shard::Shard;

/// Env var giving the task count where the scheduler does not (Kubernetes Indexed Jobs
/// give only `JOB_COMPLETION_INDEX`); `--shard-count` wins over it.
pub const SHARD_COUNT_VAR: &str = "LATHE_SHARD_COUNT";

/// `--shard`: a literal slice or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Literal(Shard),
    Auto,
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            Ok(Self::Auto)
        } else {
            s.parse()
                .map(Self::Literal)
                .map_err(|e| format!("{e}, or `auto`"))
        }
    }
}

/// Where a shard came from, for the manifest and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub shard: Shard,
    pub source: &'static str,
}

/// Why `--shard auto` found no usable slice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardEnvError {
    #[error(
        "--shard auto: no array index in the environment (looked for SLURM_ARRAY_TASK_ID, AWS_BATCH_JOB_ARRAY_INDEX, JOB_COMPLETION_INDEX); give --shard I/N"
    )]
    NoScheduler,
    #[error("--shard auto: {var} = {value:?} is not a whole number")]
    NotANumber { var: &'static str, value: String },
    #[error("--shard auto: {var} is set but {missing} is not")]
    Missing {
        var: &'static str,
        missing: &'static str,
    },
    #[error(
        "--shard auto: JOB_COMPLETION_INDEX = {index} but the task count is unknown; give --shard-count N or set {SHARD_COUNT_VAR} (the Job's `completions`)"
    )]
    NoCount { index: usize },
    #[error(
        "--shard auto: Slurm array task {id} does not map onto 0..{count} (min {min}, step {step}); use a plain range like --array=1-{count} or --array=0-{last}:1",
        last = count.saturating_sub(1)
    )]
    SlurmLayout {
        id: usize,
        min: usize,
        step: usize,
        count: usize,
    },
    #[error("--shard auto: {source_name} gives index {index} of {count} tasks, outside 0..{count}")]
    OutOfRange {
        source_name: &'static str,
        index: usize,
        count: usize,
    },
}

/// Resolves `--shard auto` from `env` (a lookup such as `std::env::var`), with
/// `count` from `--shard-count`. Slurm is asked first, then AWS Batch, then Kubernetes.
pub fn from_env(
    env: &dyn Fn(&str) -> Option<String>,
    count: Option<usize>,
) -> Result<Resolved, ShardEnvError> {
    let number = |var: &'static str| -> Result<Option<usize>, ShardEnvError> {
        match env(var) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ShardEnvError::NotANumber { var, value: v }),
        }
    };
    let required = |var: &'static str, missing: &'static str| -> Result<usize, ShardEnvError> {
        number(missing)?.ok_or(ShardEnvError::Missing { var, missing })
    };
    let checked = |source_name: &'static str, index: usize, count: usize| {
        if count == 0 || index >= count {
            return Err(ShardEnvError::OutOfRange {
                source_name,
                index,
                count,
            });
        }
        Ok(Resolved {
            shard: Shard { index, count },
            source: source_name,
        })
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let var = "SLURM_ARRAY_TASK_ID";
        let min = required(var, "SLURM_ARRAY_TASK_MIN")?;
        let slurm_count = required(var, "SLURM_ARRAY_TASK_COUNT")?;
        // Slurm leaves out SLURM_ARRAY_TASK_STEP for an array given as a list.
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        let count = count.unwrap_or(slurm_count);
        let offset = id.checked_sub(min);
        let index = offset
            .filter(|o| step > 0 && o % step == 0)
            .map(|o| o / step);
        return match index {
            Some(index) if index < count => checked("slurm", index, count),
            _ => Err(ShardEnvError::SlurmLayout {
                id,
                min,
                step,
                count,
            }),
        };
    }
    if let Some(index) = number("AWS_BATCH_JOB_ARRAY_INDEX")? {
        let size = required("AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE")?;
        return checked("aws-batch", index, count.unwrap_or(size));
    }
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = match count {
            Some(c) => c,
            None => number(SHARD_COUNT_VAR)?.ok_or(ShardEnvError::NoCount { index })?,
        };
        return checked("kubernetes", index, count);
    }
    Err(ShardEnvError::NoScheduler)
}

/// The stable 64-bit hash of a unit key: the first 8 bytes of its SHA-256, big-endian.
/// Fixed forever (changing it would move finished units to other tasks).
pub fn key_hash(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"))
}

/// Does the unit with `key` belong to `shard`?
pub fn owns(shard: Shard, key: &str) -> bool {
    key_hash(key) % shard.count as u64 == shard.index as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn shard(index: usize, count: usize) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn slurm_arrays_starting_at_one_map_to_zero_based_slices() {
        for id in 1..=4 {
            let id_text = id.to_string();
            let e = env(&[
                ("SLURM_ARRAY_TASK_ID", &id_text),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_STEP", "1"),
            ]);
            let r = from_env(&e, None).unwrap();
            assert_eq!((r.shard, r.source), (shard(id - 1, 4), "slurm"));
        }
    }

    #[test]
    fn stepped_slurm_arrays_are_mapped_and_lists_refused() {
        // --array=0-12:4 gives 0, 4, 8, 12: four tasks.
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "8"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "4"),
        ]);
        assert_eq!(from_env(&e, None).unwrap().shard, shard(2, 4));
        // --array=1,2,7: no step, 7 - 1 is outside 0..3.
        let e = env(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        let err = from_env(&e, None).unwrap_err();
        assert!(
            matches!(err, ShardEnvError::SlurmLayout { id: 7, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--array=1-3"), "{err}");
    }

    #[test]
    fn aws_batch_gives_index_and_size() {
        let e = env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "5"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "16"),
        ]);
        let r = from_env(&e, None).unwrap();
        assert_eq!((r.shard, r.source), (shard(5, 16), "aws-batch"));
        let e = env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "5")]);
        assert!(matches!(
            from_env(&e, None),
            Err(ShardEnvError::Missing {
                missing: "AWS_BATCH_JOB_ARRAY_SIZE",
                ..
            })
        ));
    }

    #[test]
    fn kubernetes_needs_the_count_once() {
        let e = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert!(matches!(
            from_env(&e, None),
            Err(ShardEnvError::NoCount { index: 3 })
        ));
        assert_eq!(from_env(&e, Some(8)).unwrap().shard, shard(3, 8));
        let e = env(&[("JOB_COMPLETION_INDEX", "3"), (SHARD_COUNT_VAR, "4")]);
        let r = from_env(&e, None).unwrap();
        assert_eq!((r.shard, r.source), (shard(3, 4), "kubernetes"));
        let e = env(&[("JOB_COMPLETION_INDEX", "4"), (SHARD_COUNT_VAR, "4")]);
        assert!(matches!(
            from_env(&e, None),
            Err(ShardEnvError::OutOfRange {
                index: 4,
                count: 4,
                ..
            })
        ));
    }

    #[test]
    fn nothing_set_or_garbage_is_refused() {
        assert_eq!(from_env(&env(&[]), None), Err(ShardEnvError::NoScheduler));
        let e = env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "x")]);
        assert!(matches!(
            from_env(&e, None),
            Err(ShardEnvError::NotANumber { .. })
        ));
    }

    /// The first 8 bytes of SHA-256("album:x").
    const PINNED: u64 = 0xad54_771d_c376_b471;

    #[test]
    fn the_hash_is_fixed_and_spreads_units() {
        // Pinned: a change here would reassign finished units to other tasks.
        assert_eq!(key_hash("album:x"), PINNED);
        let counts = (0..4)
            .map(|i| {
                (0..400)
                    .filter(|k| owns(shard(i, 4), &format!("album:{k}")))
                    .count()
            })
            .collect::<Vec<_>>();
        assert_eq!(counts.iter().sum::<usize>(), 400);
        assert!(
            counts.iter().all(|&c| (60..=140).contains(&c)),
            "{counts:?}"
        );
    }
}
