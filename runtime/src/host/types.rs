//! `agora:platform/types` has no functions.

use super::{Cap, Unserved};
use crate::bindings::types;

impl types::Host for Cap<'_, Unserved> {}
