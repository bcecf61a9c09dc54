//! Errors: one [`Problem`] per thing wrong with a genesis document, collected into
//! [`Problems`] so that a validator operator sees every mistake at once, not one per run.

use std::fmt;
use std::path::PathBuf;

/// Problems kept in full; beyond this only a count is kept. A genesis file is bounded
/// ([`crate::limits::GENESIS_FILE_BYTES_MAX`]), so the list is bounded anyway; the cap keeps a
/// pathological file from producing megabytes of output.
pub const PROBLEMS_SHOWN_MAX: usize = 1_000;

/// Longest problem message kept, in bytes. Messages quote the offending value, which may be
/// a string of any length; the start is enough to find it.
pub const PROBLEM_MESSAGE_BYTES_MAX: usize = 512;

/// One thing wrong with a genesis document, at a field path such as `validators[2].consensus_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where: a field path (`members[1].id`) or a list (`validators`).
    pub path: String,
    /// What is wrong, in a sentence fragment.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in one document, in document order (field problems first, then
/// cross-field problems), plus a count of those not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    list: Vec<Problem>,
    not_shown: usize,
}

impl Problems {
    /// Records a problem at `path`.
    pub(crate) fn report(&mut self, path: impl fmt::Display, message: impl fmt::Display) {
        if self.list.len() < PROBLEMS_SHOWN_MAX {
            let mut message = message.to_string();
            if message.len() > PROBLEM_MESSAGE_BYTES_MAX {
                let mut end = PROBLEM_MESSAGE_BYTES_MAX;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
                message.push_str("...");
            }
            self.list.push(Problem { path: path.to_string(), message });
        } else {
            self.not_shown += 1;
        }
    }

    /// The problems kept.
    pub fn list(&self) -> &[Problem] {
        &self.list
    }

    /// How many problems there are in total, shown or not.
    pub fn count(&self) -> usize {
        self.list.len() + self.not_shown
    }

    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.count();
        write!(f, "{count} problem{}:", if count == 1 { "" } else { "s" })?;
        for problem in &self.list {
            write!(f, "\n  {problem}")?;
        }
        if self.not_shown > 0 {
            write!(f, "\n  ... and {} more not shown", self.not_shown)?;
        }
        Ok(())
    }
}

/// Why genesis text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all (or nested too deeply): nothing further can be checked.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    /// Well-formed JSON that is not a valid genesis document.
    #[error("invalid genesis: {0}")]
    Invalid(Problems),
}

/// Why a genesis file could not be loaded, written or generated. File problems name the file.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    // Causes are part of each message and not also exposed as `source()`, so that printing
    // the error chain (`{:#}`) does not repeat them.
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: {size_bytes} bytes; a genesis file is at most {max} bytes", max = crate::limits::GENESIS_FILE_BYTES_MAX)]
    TooLarge { path: PathBuf, size_bytes: u64 },
    #[error("{path}: {error}")]
    Parse { path: PathBuf, error: ParseError },
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
    #[error("{path} already exists; refusing to overwrite it (pass --force to replace it)")]
    AlreadyExists { path: PathBuf },
    #[error("key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The options given to the builder are unusable (before any document exists).
    #[error("{0}")]
    Options(String),
    /// The builder produced a document that does not validate: the options describe an
    /// invalid network (for example 3 validators).
    #[error("the requested genesis is not valid: {0}")]
    Build(Problems),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let mut problems = Problems::default();
        let long = format!("a{}", "é".repeat(PROBLEM_MESSAGE_BYTES_MAX));
        problems.report("chain_id", &long);
        let message = &problems.list()[0].message;
        assert!(message.ends_with("..."));
        assert!(message.len() <= PROBLEM_MESSAGE_BYTES_MAX + 3);
        assert!(long.starts_with(message.trim_end_matches("...")));
    }

    #[test]
    fn display_counts_what_is_not_shown() {
        let mut problems = Problems::default();
        for index in 0..PROBLEMS_SHOWN_MAX + 2 {
            problems.report(format!("balances[{index}].amount"), "zero");
        }
        assert_eq!(problems.count(), PROBLEMS_SHOWN_MAX + 2);
        let text = problems.to_string();
        assert!(
            text.starts_with(&format!("{} problems:\n  balances[0].amount: zero", PROBLEMS_SHOWN_MAX + 2))
        );
        assert!(text.ends_with("\n  ... and 2 more not shown"));
    }
}
