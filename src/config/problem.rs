//! Problems found in a pipeline file, each tied to `file:line:col`.
//!
//! A pipeline is checked as a whole and every problem is kept, so a user
//! fixes a file in one round instead of one error per run. [`Problems`] is
//! the error type of loading; later phases (model and codec checks) add to
//! it through [`super::LoadedPipeline::problem`].

use std::fmt;
use std::path::PathBuf;

/// A 1-based position in a pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, counting from 1.
    pub line: usize,
    /// Column in characters, counting from 1.
    pub column: usize,
}

impl Location {
    /// The first character of a file, where problems about the file as a
    /// whole are reported.
    pub const START: Location = Location { line: 1, column: 1 };

    /// A location from 1-based line and column.
    #[must_use]
    pub const fn new(line: usize, column: usize) -> Self {
        Self { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in a pipeline file.
///
/// Displays as `file:line:col: message`, or `file: message` when the
/// problem has no position (for example a file that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", .file.display(), position_suffix(.location))]
pub struct Problem {
    /// The pipeline file, as the user named it (not canonicalized), so the
    /// message points at the path they typed.
    pub file: PathBuf,
    /// Where in the file, when known.
    pub location: Option<Location>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Problem {
    /// A problem at a known position or, with `None`, about the whole file.
    pub fn new(
        file: impl Into<PathBuf>,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            location,
            message: message.into(),
        }
    }
}

fn position_suffix(location: &Option<Location>) -> String {
    location.map_or_else(String::new, |at| format!(":{at}"))
}

/// Every problem found in a pipeline file.
///
/// Displays one problem per line, ordered by position so the output reads
/// top to bottom like the file; problems without a position come first.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_sorted(.0))]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// No problems yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one problem.
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    /// Whether nothing was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// Orders the problems by position; problems at the same position keep
    /// the order in which they were found, so output stays deterministic.
    pub fn sort(&mut self) {
        self.0.sort_by_key(|problem| problem.location);
    }

    /// `Ok(value)` when nothing was found, the problems otherwise.
    ///
    /// # Errors
    ///
    /// Returns `self` (sorted) when it holds at least one problem.
    pub fn into_result<T>(mut self, value: T) -> Result<T, Problems> {
        if self.is_empty() {
            Ok(value)
        } else {
            self.sort();
            Err(self)
        }
    }
}

impl From<Vec<Problem>> for Problems {
    fn from(problems: Vec<Problem>) -> Self {
        Self(problems)
    }
}

impl From<Problem> for Problems {
    fn from(problem: Problem) -> Self {
        Self(vec![problem])
    }
}

impl Extend<Problem> for Problems {
    fn extend<I: IntoIterator<Item = Problem>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Problems {
    type Item = &'a Problem;
    type IntoIter = std::slice::Iter<'a, Problem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

// Sorting a copy of references keeps Display correct even for problems that
// callers pushed after loading, without needing `&mut self`.
fn render_sorted(problems: &[Problem]) -> String {
    let mut ordered: Vec<&Problem> = problems.iter().collect();
    ordered.sort_by_key(|problem| problem.location);
    ordered
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize, message: &str) -> Problem {
        Problem::new("p.yaml", Some(Location::new(line, column)), message)
    }

    #[test]
    fn problem_with_location_shows_line_and_column() {
        assert_eq!(at(3, 7, "bad").to_string(), "p.yaml:3:7: bad");
    }

    #[test]
    fn problem_without_location_shows_only_the_file() {
        let problem = Problem::new("dir/p.yaml", None, "cannot read");
        assert_eq!(problem.to_string(), "dir/p.yaml: cannot read");
    }

    #[test]
    fn problems_display_sorted_by_line_then_column() {
        let problems = Problems(vec![
            at(9, 1, "c"),
            at(2, 5, "b"),
            Problem::new("p.yaml", None, "a"),
            at(2, 3, "a2"),
        ]);
        assert_eq!(
            problems.to_string(),
            "p.yaml: a\np.yaml:2:3: a2\np.yaml:2:5: b\np.yaml:9:1: c"
        );
    }

    #[test]
    fn problems_at_the_same_position_keep_their_order() {
        let mut problems = Problems(vec![at(4, 1, "first"), at(4, 1, "second")]);
        problems.sort();
        assert_eq!(problems.0[0].message, "first");
        assert_eq!(problems.0[1].message, "second");
    }

    #[test]
    fn into_result_is_ok_only_when_empty() {
        assert_eq!(Problems::new().into_result(5), Ok(5));
        let problems = Problems::from(at(1, 1, "x"));
        assert_eq!(problems.into_result(5).map_err(|p| p.len()), Err(1));
    }
}
