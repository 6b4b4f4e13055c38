//! The one error type of this crate.
//!
//! Every variant names the offending value in backticks and is classified with
//! an [`ErrorDomain`] and a [`RetryHint`], so callers decide retry, report or
//! stop without matching on variants.

use std::io;
use std::path::PathBuf;

use sluice_core::{ErrorDomain, RetryHint};

/// Why a schema could not be generated, written, read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A layout cannot be turned into a valid Avro schema.
    #[error("invalid layout for event type `{event_type}`: {reason}")]
    InvalidLayout {
        /// Event type of the layout.
        event_type: String,
        /// What is wrong, with the offending value in backticks.
        reason: String,
    },
    /// Two layouts share an event type, so they would share a file.
    #[error("event type `{0}` appears more than once")]
    DuplicateEventType(String),
    /// A schema document is not valid JSON.
    #[error("schema is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// A schema document is JSON but not a valid Avro schema.
    #[error("invalid schema at `{path}`: {reason}")]
    InvalidSchema {
        /// Where in the schema, e.g. `PageView.amount`.
        path: String,
        /// What is wrong, with the offending value in backticks.
        reason: String,
    },
    /// Two files of one directory define the same schema.
    #[error("`{first}` and `{second}` both define schema `{name}`")]
    DuplicateSchema {
        /// Full name of the schema.
        name: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// An error while handling one file.
    #[error("in `{path}`")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<SchemaError>,
    },
    /// Reading a file or directory failed.
    #[error("cannot read `{path}`")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing a file or creating a directory failed.
    #[error("cannot write `{path}`")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl SchemaError {
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        SchemaError::InvalidSchema {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> Self {
        SchemaError::InFile {
            path: path.into(),
            source: Box::new(self),
        }
    }
}

impl sluice_core::Classify for SchemaError {
    /// Whose fault the error is: bad input is the user's, I/O is external.
    fn domain(&self) -> ErrorDomain {
        match self {
            SchemaError::Read { .. } | SchemaError::Write { .. } => ErrorDomain::External,
            SchemaError::InFile { source, .. } => source.domain(),
            _ => ErrorDomain::User,
        }
    }

    /// Whether retrying may help: only for I/O errors.
    fn retry_hint(&self) -> RetryHint {
        match self.domain() {
            ErrorDomain::External => RetryHint::Retry,
            _ => RetryHint::NoRetry,
        }
    }
}
