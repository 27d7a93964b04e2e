//! `agora:platform/http`: outbound requests to the granted hosts (see `runtime::outbound`).

use super::HostState;
use crate::runtime::bindings::http::{self, HttpError};
use crate::runtime::outbound::{Destinations, OutboundError, OutboundRequest};
use std::time::Duration;

impl http::Host for HostState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, HttpError> {
        if self.grants.http_hosts.is_empty() {
            return Err(HttpError::Denied(self.deny("http is not granted to this component")));
        }
        let mut timeout = self.call_timeout();
        if let Some(ms) = request.timeout_ms {
            timeout = timeout.min(Duration::from_millis(ms.into()));
        }
        let request = OutboundRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout,
        };
        let to = Destinations { hosts: &self.grants.http_hosts, allow_private: self.grants.allow_private_http };
        match self.http.send(request, to).await {
            Ok(response) => {
                Ok(http::Response { status: response.status, headers: response.headers, body: response.body })
            }
            Err(OutboundError::Denied(reason)) => Err(HttpError::Denied(self.deny(format!("http: {reason}")))),
            Err(OutboundError::Timeout) => {
                self.note_timeout();
                Err(HttpError::Timeout)
            }
            Err(OutboundError::TooLarge) => Err(HttpError::TooLarge),
            Err(OutboundError::InvalidRequest(message)) => Err(HttpError::InvalidRequest(message)),
            Err(OutboundError::Network(message)) => Err(HttpError::Network(message)),
        }
    }
}
