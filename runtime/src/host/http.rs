//! `agora:platform/http`: outbound requests to the granted hosts (see `runtime::outbound`).

use super::Cap;
use crate::bindings::http::{self, HttpError};
use crate::nested::NestedCalls;
use crate::outbound::{Destinations, OutboundError, OutboundHttp, OutboundRequest};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct HttpCtx {
    /// Exact host names, or `*.example.com` for any subdomain; empty: not granted.
    pub(crate) hosts: Vec<String>,
    pub(crate) allow_private: bool,
    pub(crate) client: OutboundHttp,
    /// The host's policies, which decide each request before it is sent.
    pub(crate) policies: Option<Arc<dyn NestedCalls>>,
}

impl http::Host for Cap<'_, HttpCtx> {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, HttpError> {
        if self.ctx.hosts.is_empty() {
            return Err(HttpError::Denied(self.call.deny("http is not granted to this component")));
        }
        let mut timeout = self.call.timeout();
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
        let to = Destinations {
            hosts: &self.ctx.hosts,
            allow_private: self.ctx.allow_private,
            policies: self.ctx.policies.as_ref(),
        };
        match self.ctx.client.send(request, to).await {
            Ok(response) => {
                Ok(http::Response { status: response.status, headers: response.headers, body: response.body })
            }
            Err(OutboundError::Denied(reason)) => Err(HttpError::Denied(self.call.deny(format!("http: {reason}")))),
            Err(OutboundError::Timeout) => {
                self.call.note_timeout();
                Err(HttpError::Timeout)
            }
            Err(OutboundError::TooLarge) => Err(HttpError::TooLarge),
            Err(OutboundError::InvalidRequest(message)) => Err(HttpError::InvalidRequest(message)),
            Err(OutboundError::Network(message)) => Err(HttpError::Network(message)),
        }
    }
}
