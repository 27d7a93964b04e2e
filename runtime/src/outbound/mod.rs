//! Outbound HTTP for guests: only to granted hosts, only to public addresses (unless the
//! operator allows private ones), redirects followed by hand so that every hop is checked.

mod grant;
mod resolver;

use grant::host_granted;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use reqwest::{Client, Method, Response, StatusCode};
use resolver::{PublicOnlyResolver, RefusedAddress};

use crate::nested::{CallError, Guarded, NestedCalls};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::{Host, Url};

/// Redirects followed per request; the next one is a `network` error.
pub(crate) const MAX_REDIRECTS: usize = 5;
/// Largest request body sent and response body read; beyond it the answer is `too-large`.
/// Fixed rather than derived from the output limit: a guest may well fetch more than it returns.
pub(crate) const MAX_BODY_BYTES: usize = 4 << 20;

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

#[derive(Debug, Clone)]
pub(crate) struct OutboundRequest {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// For the whole exchange, redirects included.
    pub(crate) timeout: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct OutboundResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OutboundError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("timed out")]
    Timeout,
    #[error("body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("network error: {0}")]
    Network(String),
}

/// Where a request may go: the granted host names, whether private addresses are allowed, and
/// the host's policies, which decide each host the request reaches (redirects included).
#[derive(Clone, Copy)]
pub(crate) struct Destinations<'a> {
    pub(crate) hosts: &'a [String],
    pub(crate) allow_private: bool,
    pub(crate) policies: Option<&'a Arc<dyn NestedCalls>>,
}

/// The shared HTTP clients. Cheap to clone.
#[derive(Clone)]
pub(crate) struct OutboundHttp {
    /// Resolves names to public addresses only.
    public_only: Client,
    /// For operators who allow private targets (and for tests against 127.0.0.1).
    any_address: Client,
}

impl OutboundHttp {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let builder = || {
            Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve and connect on our behalf, past the address check.
                .no_proxy()
                .user_agent(concat!("agora/", env!("CARGO_PKG_VERSION")))
        };
        Ok(OutboundHttp {
            public_only: builder().dns_resolver(Arc::new(PublicOnlyResolver)).build()?,
            any_address: builder().build()?,
        })
    }

    pub(crate) async fn send(
        &self,
        request: OutboundRequest,
        to: Destinations<'_>,
    ) -> Result<OutboundResponse, OutboundError> {
        let timeout = request.timeout;
        tokio::time::timeout(timeout, self.exchange(request, to)).await.unwrap_or(Err(OutboundError::Timeout))
    }

    async fn exchange(
        &self,
        request: OutboundRequest,
        to: Destinations<'_>,
    ) -> Result<OutboundResponse, OutboundError> {
        let deadline = Instant::now() + request.timeout;
        let mut method = parse_method(&request.method)?;
        let mut url = Url::parse(&request.url).map_err(|e| invalid(format!("bad URL {:?}: {e}", request.url)))?;
        let mut headers = parse_headers(&request.headers)?;
        let mut body = request.body;
        if body.as_ref().is_some_and(|b| b.len() > MAX_BODY_BYTES) {
            return Err(OutboundError::TooLarge);
        }
        let client = if to.allow_private { &self.any_address } else { &self.public_only };

        let mut authorized: Option<String> = None;
        for hop in 0..=MAX_REDIRECTS {
            check_destination(&url, to)?;
            let host = url.host_str().unwrap_or_default();
            if authorized.as_deref() != Some(host) {
                authorize(to, method.as_str(), host).await?;
                authorized = Some(host.to_string());
            }
            let mut builder = client
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .timeout(deadline.saturating_duration_since(Instant::now()));
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(map_reqwest_error)?;
            let Some(next) = redirect_target(&response, &url) else {
                return read_response(response).await;
            };
            if hop == MAX_REDIRECTS {
                break;
            }
            // 303, and 301/302 after a POST, turn into a GET without a body (as browsers do).
            let status = response.status();
            if status == StatusCode::SEE_OTHER && method != Method::HEAD
                || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && method == Method::POST
            {
                method = Method::GET;
                body = None;
                headers.remove(reqwest::header::CONTENT_TYPE);
            }
            if next.host() != url.host() || next.port_or_known_default() != url.port_or_known_default() {
                headers.remove(reqwest::header::AUTHORIZATION);
                headers.remove(reqwest::header::COOKIE);
            }
            url = next;
        }
        Err(OutboundError::Network(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// The policies' decision on a request to `host`; a refusal, or a decision that could not be
/// made, stops the request before it is sent.
async fn authorize(to: Destinations<'_>, method: &str, host: &str) -> Result<(), OutboundError> {
    let Some(policies) = to.policies else { return Ok(()) };
    match policies.authorize(Guarded::Http { method, host }).await {
        Ok(()) => Ok(()),
        Err(CallError::Denied(reason)) => Err(OutboundError::Denied(reason)),
        Err(e) => Err(OutboundError::Network(format!("the host's policies could not decide: {e}"))),
    }
}

fn invalid(message: impl Into<String>) -> OutboundError {
    OutboundError::InvalidRequest(message.into())
}

fn parse_method(method: &str) -> Result<Method, OutboundError> {
    let upper = method.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(invalid(format!("method {method:?} is not one of {}", METHODS.join(", "))));
    }
    Method::from_bytes(upper.as_bytes()).map_err(|e| invalid(e.to_string()))
}

fn parse_headers(pairs: &[(String, String)]) -> Result<HeaderMap, OutboundError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(format!("bad header name {name:?}")))?;
        // Framing and routing are the host's: a guest-set length could desynchronize the
        // connection, a host header could address another virtual host than the URL's.
        if [HOST, CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
            return Err(invalid(format!("the {name} header is set by the host")));
        }
        let value = HeaderValue::from_str(value).map_err(|_| invalid(format!("bad value for header {name}")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Scheme, granted host, and (for an IP literal, which skips DNS) a permitted address.
fn check_destination(url: &Url, to: Destinations<'_>) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("scheme {:?} is not http or https", url.scheme())));
    }
    let host = url.host().ok_or_else(|| invalid(format!("{url} has no host")))?;
    let name = url.host_str().unwrap_or_default();
    if !host_granted(name, to.hosts) {
        return Err(OutboundError::Denied(format!("{name} is not a granted host")));
    }
    let ip = match host {
        Host::Ipv4(ip) => ip.into(),
        Host::Ipv6(ip) => ip.into(),
        Host::Domain(_) => return Ok(()),
    };
    match crate::net::non_public_reason(ip) {
        Some(reason) if !to.allow_private => Err(OutboundError::Denied(format!("{ip} is {reason}"))),
        _ => Ok(()),
    }
}

/// The URL a 3xx response points to, if it is a redirect with a usable `Location`.
fn redirect_target(response: &Response, current: &Url) -> Option<Url> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    current.join(location).ok()
}

async fn read_response(mut response: Response) -> Result<OutboundResponse, OutboundError> {
    if response.content_length().is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(OutboundError::TooLarge);
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(map_reqwest_error)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(OutboundError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(OutboundResponse { status, headers, body })
}

fn map_reqwest_error(error: reqwest::Error) -> OutboundError {
    let error = error.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<RefusedAddress>() {
            return OutboundError::Denied(refused.to_string());
        }
        source = e.source();
    }
    if error.is_timeout() {
        OutboundError::Timeout
    } else if error.is_builder() {
        OutboundError::InvalidRequest(error_chain(&error))
    } else {
        OutboundError::Network(error_chain(&error))
    }
}

/// "outer: inner: root".
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(hosts: &[&str], allow_private: bool) -> (Vec<String>, bool) {
        (hosts.iter().map(|h| h.to_string()).collect(), allow_private)
    }

    fn check(url: &str, (hosts, allow_private): &(Vec<String>, bool)) -> Result<(), OutboundError> {
        check_destination(
            &Url::parse(url).unwrap(),
            Destinations { hosts, allow_private: *allow_private, policies: None },
        )
    }

    #[test]
    fn destinations_are_checked_by_scheme_grant_and_address() {
        let public = to(&["api.example.com", "*.example.org", "10.0.0.1", "[::1]"], false);
        assert!(check("https://api.example.com/x", &public).is_ok());
        assert!(check("http://a.example.org:8080/", &public).is_ok());
        assert!(matches!(check("ftp://api.example.com/", &public), Err(OutboundError::InvalidRequest(_))));
        assert!(matches!(check("https://example.com/", &public), Err(OutboundError::Denied(_))));
        assert!(matches!(check("http://10.0.0.1/", &public), Err(OutboundError::Denied(m)) if m.contains("private")));
        assert!(matches!(check("http://[::1]/", &public), Err(OutboundError::Denied(m)) if m.contains("loopback")));
        let private = to(&["10.0.0.1"], true);
        assert!(check("http://10.0.0.1/", &private).is_ok());
    }

    #[test]
    fn requests_are_validated() {
        assert!(parse_method("get").is_ok());
        assert!(matches!(parse_method("CONNECT"), Err(OutboundError::InvalidRequest(_))));
        let header = |name: &str, value: &str| parse_headers(&[(name.to_string(), value.to_string())]);
        assert!(header("x-api-key", "secret").is_ok());
        assert!(matches!(header("bad name", "v"), Err(OutboundError::InvalidRequest(_))));
        assert!(matches!(header("x-ok", "line\nbreak"), Err(OutboundError::InvalidRequest(_))));
        for framing in ["Host", "content-length", "Transfer-Encoding", "connection"] {
            assert!(matches!(header(framing, "x"), Err(OutboundError::InvalidRequest(_))), "{framing}");
        }
    }
}
