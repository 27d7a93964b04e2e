//! `agora:platform/types` has no functions.

use super::HostState;
use crate::runtime::bindings::types;

impl types::Host for HostState {}
