//! Import errors name the file, where in it, and what was expected.

use thiserror::Error;

/// Where in a file a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Line(usize),
    Byte(u64),
    File,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Byte(n) => write!(f, "byte {n}"),
            Place::File => f.write_str("file"),
        }
    }
}

/// A refused import: nothing was loaded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{file}, {place}: {message}")]
pub struct ImportError {
    pub file: String,
    pub place: Place,
    pub message: String,
}

impl ImportError {
    pub fn new(file: &str, place: Place, message: impl Into<String>) -> ImportError {
        ImportError { file: file.to_string(), place, message: message.into() }
    }
}

pub type Result<T> = std::result::Result<T, ImportError>;
