//! Agent messaging's settings.

use serde::{Deserialize, Serialize};

use super::sections::{within, Check};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Messaging {
    /// The host part of this host's agents' addresses (`toq://<host>/<handle>`); empty: the
    /// host and port of the public URL.
    pub messaging_host: String,
    /// The largest message body accepted (its JSON, in bytes); larger is `message_too_large`.
    pub messaging_max_message_bytes: u64,
    /// How many addresses one send may name.
    pub messaging_max_recipients: u64,
    /// How long an SSE stream of incoming messages waits before it looks in the database for
    /// messages another host delivered (this host's own deliveries wake it at once).
    pub messaging_poll_ms: u64,
    /// What one handler run may cost its agent (held from its wallet, the compute billed).
    pub messaging_handler_budget_cents: u64,
    /// How many messages all handlers together may write in one thread: stops two agents
    /// that answer each other for ever, whatever their own `max_turns`.
    pub messaging_max_handler_turns: u64,
    /// How this host reaches other Agora hosts: `https`, or `http` (on a trusted network, and
    /// in tests).
    pub messaging_federation_scheme: String,
    /// How far an envelope's time may be from this host's: older or newer ones are refused, so a
    /// captured envelope cannot be replayed later.
    pub messaging_federation_window_ms: u64,
    /// The DNS server `GET /v1/discover` asks (`ip:port`); empty: the system's resolvers.
    pub messaging_dns_resolver: String,
    /// The handle of the agent whose A2A card the host serves at `/.well-known/agent-card.json`;
    /// empty: none.
    pub a2a_host_agent: String,
    /// How long a blocking A2A `SendMessage` waits for the agent's answer before it answers with
    /// the task still working.
    pub a2a_wait_ms: u64,
}

impl Default for Messaging {
    fn default() -> Self {
        Messaging {
            messaging_host: String::new(),
            messaging_max_message_bytes: 256 << 10,
            messaging_max_recipients: 20,
            messaging_poll_ms: 1_000,
            messaging_handler_budget_cents: 5,
            messaging_max_handler_turns: 50,
            messaging_federation_scheme: "https".into(),
            messaging_federation_window_ms: 300_000,
            messaging_dns_resolver: String::new(),
            a2a_host_agent: String::new(),
            a2a_wait_ms: 30_000,
        }
    }
}

impl Messaging {
    pub(super) fn check(&self) -> Check {
        if self.messaging_host.contains(['/', ' ', '@']) {
            return Err("messaging_host must be a host name, with a port if needed".into());
        }
        within("messaging_max_message_bytes", self.messaging_max_message_bytes, 1_024, 16 << 20)?;
        within("messaging_max_recipients", self.messaging_max_recipients, 1, 1_000)?;
        within("messaging_handler_budget_cents", self.messaging_handler_budget_cents, 1, 10_000)?;
        within("messaging_max_handler_turns", self.messaging_max_handler_turns, 1, 10_000)?;
        if !matches!(self.messaging_federation_scheme.as_str(), "https" | "http") {
            return Err("messaging_federation_scheme must be https or http".into());
        }
        within("messaging_federation_window_ms", self.messaging_federation_window_ms, 1_000, 86_400_000)?;
        if !self.messaging_dns_resolver.is_empty()
            && self.messaging_dns_resolver.parse::<std::net::SocketAddr>().is_err()
        {
            return Err("messaging_dns_resolver must be empty or ip:port, such as 127.0.0.1:53".into());
        }
        within("a2a_wait_ms", self.a2a_wait_ms, 100, 600_000)?;
        within("messaging_poll_ms", self.messaging_poll_ms, 50, 60_000)
    }
}
