//! Problems found in graph files, with where they are and how to fix them.
//!
//! The compiler collects every problem before giving up, so a user fixes a broken graph in
//! one pass instead of one error at a time.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a problem is: a file, and a line and column when known (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl Location {
    pub fn at(file: &Path, line: usize, col: usize) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            col,
        }
    }

    /// The whole file (no position).
    pub fn file(file: &Path) -> Self {
        Self::at(file, 0, 0)
    }

    /// A position inside a text that starts at `self` (line/col relative to that text).
    pub fn offset_by(&self, line: usize, col: usize) -> Location {
        if line <= 1 {
            Location::at(&self.file, self.line, self.col + col.saturating_sub(1))
        } else {
            Location::at(&self.file, self.line + line - 1, col)
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

/// One problem: where, what, and (when obvious) how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Location,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(at: Location, message: impl Into<String>) -> Self {
        Self {
            at,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.at, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem of a graph that failed to load or compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GraphError {
    pub problems: Vec<Problem>,
}

impl GraphError {
    pub fn one(problem: Problem) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl From<Problem> for GraphError {
    fn from(p: Problem) -> Self {
        GraphError::one(p)
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        let n = self.problems.len();
        write!(f, "\n{n} problem{} found", if n == 1 { "" } else { "s" })
    }
}

/// The candidate closest to `found` by edit distance, if it is close enough to be a typo.
pub fn suggest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = found.chars().count();
    let limit = (len / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(found, c), c))
        .filter(|(d, _)| *d <= limit && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance in characters: how many insertions, deletions and substitutions
/// turn `a` into `b`. Shared by every "did you mean" in lathe.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `a`, `b` or `c` — for "expected one of" lists.
pub fn one_of<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match quoted.len() {
        0 => "(none)".to_string(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["threshold_db", "ratio", "attack_ms"];
        assert_eq!(suggest("threshhold_db", names), Some("threshold_db"));
        assert_eq!(suggest("atack_ms", names), Some("attack_ms"));
        assert_eq!(suggest("makeup_db", names), None);
    }
}
