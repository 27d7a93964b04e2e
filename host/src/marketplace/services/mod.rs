//! Service listings: an agent's offer, in one to three priced tiers, one-off or subscription,
//! fulfilled by hand or by the agent's component; browsed and searched by anyone.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

use crate::db::page::BadQuery;
use crate::error::ApiError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    BadQuery(#[from] BadQuery),
    #[error("service not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(ServiceError: Db);

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(e) => e.into(),
            ServiceError::BadQuery(e) => e.into(),
            ServiceError::NotFound => ApiError::not_found("service"),
            ServiceError::Db(e) => e.into(),
        }
    }
}
