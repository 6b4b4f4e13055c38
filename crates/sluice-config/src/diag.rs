//! Diagnostics: every configuration problem with its file, line, column, key
//! path, what was expected and, where we can guess, a suggestion.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in one of the loaded files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Pos {
    /// Index into the [`SourceMap`].
    pub source: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// The files a configuration was loaded from, indexed by [`Pos::source`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<PathBuf>,
}

impl SourceMap {
    /// Registers a file and returns its index.
    pub fn add(&mut self, path: &Path) -> usize {
        self.files.push(path.to_path_buf());
        self.files.len() - 1
    }

    /// The path of a source, or `<unknown>`.
    pub fn path(&self, source: usize) -> &Path {
        self.files
            .get(source)
            .map(PathBuf::as_path)
            .unwrap_or_else(|| Path::new("<unknown>"))
    }

    /// Every loaded file.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// One problem in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Key path, e.g. `aggregations[0].group_by[1]`.
    pub path: String,
    /// What is wrong (lowercase, offending value in backticks).
    pub message: String,
    /// What was expected, if that helps.
    pub expected: Option<String>,
    /// A likely fix, e.g. ``did you mean `group_by`?``.
    pub suggestion: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; {s}")?;
        }
        if let Some(e) = &self.expected {
            write!(f, " (expected {e})")?;
        }
        Ok(())
    }
}

/// Every problem found in one run, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl sluice_core::Classify for Diagnostics {
    /// A configuration problem is always the user's to fix.
    fn domain(&self) -> sluice_core::ErrorDomain {
        sluice_core::ErrorDomain::User
    }
}

impl Diagnostics {
    /// True when there are no problems.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sorts by file, line and column and removes exact duplicates.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.col, &a.message).cmp(&(&b.file, b.line, b.col, &b.message))
        });
        self.0.dedup();
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics while decoding and validating.
#[derive(Debug)]
pub struct Reporter<'a> {
    sources: &'a SourceMap,
    out: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    /// A reporter resolving positions through `sources`.
    pub fn new(sources: &'a SourceMap) -> Self {
        Self {
            sources,
            out: Vec::new(),
        }
    }

    /// Records a problem at `pos`.
    pub fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>) -> &mut Diagnostic {
        self.out.push(Diagnostic {
            file: self.sources.path(pos.source).to_path_buf(),
            line: pos.line,
            col: pos.col,
            path: path.to_string(),
            message: message.into(),
            expected: None,
            suggestion: None,
        });
        self.out.last_mut().expect("just pushed")
    }

    /// Records a problem with what was expected.
    pub fn expected(
        &mut self,
        pos: Pos,
        path: &str,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.error(pos, path, message).expected = Some(expected.into());
    }

    /// Number of problems so far.
    pub fn count(&self) -> usize {
        self.out.len()
    }

    /// Appends already-built diagnostics.
    pub fn extend(&mut self, diags: impl IntoIterator<Item = Diagnostic>) {
        self.out.extend(diags);
    }

    /// The collected problems.
    pub fn finish(self) -> Diagnostics {
        let mut d = Diagnostics(self.out);
        d.sort();
        d
    }
}

/// ``did you mean `x`?`` for the closest of `candidates`, when close enough.
pub fn suggest<'c>(given: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(given, c);
        let close =
            score > 0.8 || strsim::levenshtein(given, c) <= 2.min(c.len().saturating_sub(1));
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// `a, b or c` in backticks.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("one of {} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(
            suggest("gruop_by", ["name", "group_by", "window"]).as_deref(),
            Some("did you mean `group_by`?")
        );
        assert_eq!(suggest("zzz", ["name", "group_by"]), None);
    }
}
