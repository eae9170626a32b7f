//! `--shard I/N`: a deterministic slice of the tracks, so a catalogue can be split over
//! an array job (one process per index). Track `k` (0-based, command-line order) belongs
//! to shard `k mod N`: every track lands in exactly one shard whatever N.

use std::str::FromStr;

/// One slice of `count` slices, `index` in `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole list in one slice.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Does track `k` belong to this shard?
    pub fn contains(self, k: usize) -> bool {
        k % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("expected I/N with 0 <= I < N (e.g. 0/4), found `{s}`");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let index: usize = i.trim().parse().map_err(|_| err())?;
        let count: usize = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_tracks() {
        for count in 1..6 {
            for k in 0..20 {
                let owners = (0..count)
                    .filter(|&index| Shard { index, count }.contains(k))
                    .count();
                assert_eq!(owners, 1);
            }
        }
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
    }
}
