//! `agora:platform/knowledge`: not served yet.

use super::{Cap, Unserved};
use crate::bindings::knowledge;
use crate::bindings::types::CapabilityError;

fn unavailable() -> CapabilityError {
    CapabilityError::Unavailable("knowledge is not available yet".into())
}

impl knowledge::Host for Cap<'_, Unserved> {
    async fn search(&mut self, _query: String, _limit: u32) -> Result<Vec<knowledge::Hit>, CapabilityError> {
        Err(unavailable())
    }

    async fn add_note(&mut self, _title: String, _body: String) -> Result<String, CapabilityError> {
        Err(unavailable())
    }
}
