//! Reading and writing the JSON files the commands take and produce.

use std::path::Path;

use eyre::{Context, Result};
use serde::{de::DeserializeOwned, Serialize};

/// Reads and parses a JSON file; the error names the file and what was expected.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read the {what} file {}", path.display()))?;
    serde_json::from_str(&text)
        .wrap_err_with(|| format!("{} is not a valid {what} file", path.display()))
}

/// Writes `value` as pretty JSON to `path`, or to stdout when `path` is `None`.
pub(crate) fn write_json<T: Serialize>(path: Option<&Path>, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    match path {
        Some(path) => {
            std::fs::write(path, text).wrap_err_with(|| format!("cannot write {}", path.display()))
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(())
        }
    }
}
