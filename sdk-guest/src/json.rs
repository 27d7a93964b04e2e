//! JSON in and out of components. Parse failures convert into the
//! `InvalidInput` case of [`TaskError`] and [`SkillError`], so `?` works in
//! `handle` and `invoke`.

use crate::{SkillError, TaskError};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use serde_json::{json, Value};

/// Input that is not the JSON expected.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidJson(pub String);

impl core::fmt::Display for InvalidJson {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid JSON: {}", self.0)
    }
}

impl std::error::Error for InvalidJson {}

impl From<InvalidJson> for TaskError {
    fn from(e: InvalidJson) -> Self {
        TaskError::InvalidInput(e.to_string())
    }
}

impl From<InvalidJson> for SkillError {
    fn from(e: InvalidJson) -> Self {
        SkillError::InvalidInput(e.to_string())
    }
}

pub fn parse<T: DeserializeOwned>(s: &str) -> Result<T, InvalidJson> {
    serde_json::from_str(s).map_err(|e| InvalidJson(e.to_string()))
}

pub fn parse_bytes<T: DeserializeOwned>(b: &[u8]) -> Result<T, InvalidJson> {
    serde_json::from_slice(b).map_err(|e| InvalidJson(e.to_string()))
}

/// Serializes `value`. Only types whose `Serialize` can fail (maps with
/// non-string keys, failing custom impls) panic here.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("value serializes to JSON")
}
