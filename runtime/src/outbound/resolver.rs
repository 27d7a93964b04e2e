//! A DNS resolver for reqwest that only answers with public addresses, so that the address
//! checked is the address connected to (a name cannot resolve to a public address for the
//! check and to a private one for the connection).

use crate::net::non_public_reason;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;

pub(crate) struct PublicOnlyResolver;

/// Every address of a name was refused; found in the error chain of the failed request.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {ip}, {reason}")]
pub(crate) struct RefusedAddress {
    pub(crate) host: String,
    pub(crate) ip: std::net::IpAddr,
    pub(crate) reason: &'static str,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match non_public_reason(addr.ip()) {
                    None => true,
                    Some(reason) => {
                        refused.get_or_insert(RefusedAddress { host: host.clone(), ip: addr.ip(), reason });
                        false
                    }
                })
                .collect();
            match refused {
                Some(refused) if public.is_empty() => Err(Box::new(refused) as Box<_>),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}
