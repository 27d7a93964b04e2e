//! Which upstream models may serve a request, in the order to try them, and the circuit
//! breakers that skip an upstream that keeps failing.
//!
//! The rule, deterministic for a given configuration and request:
//! - `fast` and `max`: their candidate lists, in configuration order.
//! - `auto`: its list, cheapest first (by the price of a typical request, a quarter of the
//!   prompt bound in and the reserved completion out); then the `max` list as escalation when
//!   every `auto` candidate failed. A long prompt (estimated at a quarter of its byte bound,
//!   from `gateway_auto_escalate_tokens`) starts with the `max` list instead.
//! - A native model name (`gpt-4o-mini`) is an alias: the upstreams that serve it, in order.
//! - Every list keeps only the models that can take the request: tools and images need the
//!   `tools` and `vision` capabilities, and the context window must hold the estimated prompt
//!   and the reserved completion.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::{ChatShape, Mode};
use super::upstreams::{Upstream, UpstreamModel, Upstreams};

/// Whose credentials an attempt uses, and so how it is billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Billing {
    /// The operator's upstream: its price plus the markup.
    Managed,
    /// The account's own provider key (BYOK): a fee on what it would have cost managed.
    Byok { key_id: String },
    /// The account's self-hosted endpoint: a fee on the baseline.
    Local { endpoint_id: String },
}

impl Billing {
    pub fn mode(&self) -> &'static str {
        match self {
            Billing::Managed => "managed",
            Billing::Byok { .. } => "byok",
            Billing::Local { .. } => "local",
        }
    }
}

/// One model of one upstream, called with the credentials its billing says.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub upstream: Arc<Upstream>,
    pub model: usize,
    pub billing: Billing,
}

impl Candidate {
    pub fn model(&self) -> &UpstreamModel {
        &self.upstream.models[self.model]
    }

    /// What its circuit breaker is keyed by: the upstream, or the account's key or endpoint.
    pub fn breaker_key(&self) -> &str {
        match &self.billing {
            Billing::Managed => &self.upstream.name,
            Billing::Byok { key_id } => key_id,
            Billing::Local { endpoint_id } => endpoint_id,
        }
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Candidate) -> bool {
        Arc::ptr_eq(&self.upstream, &other.upstream) && self.model == other.model && self.billing == other.billing
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The mode billed and echoed (an alias's first mode, else `auto`).
    pub tier: Mode,
    /// What the client asked for, echoed as the response's `model`.
    pub echo: String,
    pub candidates: Vec<Candidate>,
    /// How the candidates were chosen, as usage records it.
    pub method: &'static str,
}

/// The modes' lists and aliases for chat requests.
pub fn plan(
    upstreams: &Upstreams,
    requested: &str,
    shape: &ChatShape,
    escalate_tokens: i64,
    reserve: i64,
) -> Option<Plan> {
    let prompt_estimate = shape.prompt_bound / 4;
    let fits = |m: &UpstreamModel| {
        m.can("chat")
            && (!shape.tools || m.can("tools"))
            && (!shape.vision || m.can("vision"))
            && m.context_window >= prompt_estimate + reserve
    };
    let list = |mode: Mode| -> Vec<Candidate> { matching(upstreams, |m| m.modes.contains(&mode) && fits(m)) };
    let requested = if requested.is_empty() { "auto" } else { requested };
    let (tier, candidates, method) = match requested.parse::<Mode>() {
        Ok(Mode::Fast) => (Mode::Fast, list(Mode::Fast), "fast"),
        Ok(Mode::Max) => (Mode::Max, list(Mode::Max), "max"),
        Ok(Mode::Auto) if prompt_estimate >= escalate_tokens => {
            (Mode::Auto, then(list(Mode::Max), list(Mode::Auto)), "auto:escalated")
        }
        Ok(Mode::Auto) => {
            let mut auto = list(Mode::Auto);
            auto.sort_by_key(|c| c.model().price.cost(prompt_estimate, reserve));
            (Mode::Auto, then(auto, list(Mode::Max)), "auto:value")
        }
        Err(_) => {
            let alias = matching(upstreams, |m| m.name == requested && fits(m));
            let tier = alias.first().and_then(|c| c.model().modes.first().copied()).unwrap_or(Mode::Auto);
            (tier, alias, "alias")
        }
    };
    (!candidates.is_empty()).then(|| Plan { tier, echo: requested.to_string(), candidates, method })
}

/// The models that can embed, `requested` first when it is one of them.
pub fn embedding_candidates(upstreams: &Upstreams, requested: Option<&str>) -> Vec<Candidate> {
    let named =
        requested.map(|name| matching(upstreams, |m| m.can("embeddings") && m.name == name)).unwrap_or_default();
    then(named, matching(upstreams, |m| m.can("embeddings")))
}

/// The models with a media `capability` (`images`, `speech`, `transcription`, `video`) of an
/// OpenAI-compatible upstream: for a mode, those in its list first, then the rest; for a native
/// name, that model only.
pub fn media_candidates(upstreams: &Upstreams, capability: &str, requested: &str) -> Vec<Candidate> {
    let can = |m: &UpstreamModel, u: &Upstream| u.kind == super::upstreams::Kind::Openai && m.can(capability);
    let all = matching_in(upstreams, |m, u| can(m, u));
    match requested.parse::<Mode>() {
        Ok(mode) => then(all.iter().filter(|c| c.model().modes.contains(&mode)).cloned().collect(), all),
        Err(_) if requested.is_empty() => all,
        Err(_) => all.into_iter().filter(|c| c.model().name == requested).collect(),
    }
}

fn matching(upstreams: &Upstreams, keep: impl Fn(&UpstreamModel) -> bool) -> Vec<Candidate> {
    matching_in(upstreams, |m, _| keep(m))
}

fn matching_in(upstreams: &Upstreams, keep: impl Fn(&UpstreamModel, &Upstream) -> bool) -> Vec<Candidate> {
    let mut found = Vec::new();
    for upstream in &upstreams.list {
        for (m, model) in upstream.models.iter().enumerate() {
            if keep(model, upstream) {
                found.push(Candidate { upstream: upstream.clone(), model: m, billing: Billing::Managed });
            }
        }
    }
    found
}

/// `first`, then what of `rest` is not in it.
fn then(mut first: Vec<Candidate>, rest: Vec<Candidate>) -> Vec<Candidate> {
    for c in rest {
        if !first.contains(&c) {
            first.push(c);
        }
    }
    first
}

/// Per-upstream circuit breakers: after `failures` failures in a row an upstream is skipped for
/// `cooldown`, then tried again (one success closes it).
pub struct Breakers {
    failures: u32,
    cooldown: Duration,
    state: Mutex<HashMap<String, (u32, Option<Instant>)>>,
}

impl Breakers {
    pub fn new(failures: u32, cooldown: Duration) -> Breakers {
        Breakers { failures, cooldown, state: Mutex::new(HashMap::new()) }
    }

    pub fn is_open(&self, upstream: &str) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.get(upstream).and_then(|(_, until)| *until).is_some_and(|until| until > Instant::now())
    }

    pub fn success(&self, upstream: &str) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).remove(upstream);
    }

    pub fn failure(&self, upstream: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = state.entry(upstream.to_string()).or_insert((0, None));
        entry.0 += 1;
        if entry.0 >= self.failures {
            entry.1 = Some(Instant::now() + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::model::Price;
    use crate::gateway::upstreams::Kind;

    fn model(name: &str, modes: &[Mode], input: f64, caps: &[&str]) -> UpstreamModel {
        UpstreamModel {
            name: name.into(),
            modes: modes.to_vec(),
            price: Price::from_usd(input, input),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            context_window: 100_000,
            unit_price: 0,
        }
    }

    fn upstreams() -> Upstreams {
        let up = |name: &str, models| {
            Arc::new(Upstream {
                name: name.into(),
                kind: Kind::Openai,
                base_url: "http://x".into(),
                api_key: String::new(),
                timeout: Duration::from_secs(1),
                first_byte_timeout: Duration::from_secs(1),
                provider: None,
                headers: Vec::new(),
                models,
            })
        };
        Upstreams {
            list: vec![
                up(
                    "a",
                    vec![
                        model("dear", &[Mode::Auto], 5.0, &["chat"]),
                        model("big", &[Mode::Max], 9.0, &["chat", "tools"]),
                    ],
                ),
                up(
                    "b",
                    vec![
                        model("cheap", &[Mode::Auto, Mode::Fast], 1.0, &["chat", "tools"]),
                        model("emb", &[], 0.1, &["embeddings"]),
                    ],
                ),
            ],
        }
    }

    fn names(plan: &Plan) -> Vec<String> {
        plan.candidates.iter().map(|c| c.model().name.clone()).collect()
    }

    #[test]
    fn modes_aliases_and_capabilities_choose_the_candidates() {
        let u = upstreams();
        let short = ChatShape { prompt_bound: 100, ..Default::default() };
        let auto = plan(&u, "auto", &short, 8_000, 100).unwrap();
        assert_eq!((names(&auto), auto.method), (vec!["cheap".into(), "dear".into(), "big".into()], "auto:value"));
        let long = ChatShape { prompt_bound: 40_000, ..Default::default() };
        assert_eq!(names(&plan(&u, "", &long, 8_000, 100).unwrap())[0], "big");
        assert_eq!(names(&plan(&u, "fast", &short, 8_000, 100).unwrap()), vec!["cheap".to_string()]);
        let tools = ChatShape { tools: true, ..short.clone() };
        assert_eq!(names(&plan(&u, "auto", &tools, 8_000, 100).unwrap()), vec!["cheap".to_string(), "big".into()]);
        let alias = plan(&u, "dear", &short, 8_000, 100).unwrap();
        assert_eq!((alias.tier, alias.echo.as_str()), (Mode::Auto, "dear"));
        assert!(plan(&u, "nothing-like-it", &short, 8_000, 100).is_none());
        assert!(plan(&u, "max", &ChatShape { vision: true, ..short }, 8_000, 100).is_none());
        let emb = embedding_candidates(&u, Some("emb"));
        assert_eq!(emb, vec![Candidate { upstream: u.list[1].clone(), model: 1, billing: Billing::Managed }]);
    }

    #[test]
    fn a_breaker_opens_after_failures_in_a_row_and_closes_on_success() {
        let b = Breakers::new(2, Duration::from_secs(60));
        b.failure("a");
        assert!(!b.is_open("a"));
        b.failure("a");
        assert!(b.is_open("a") && !b.is_open("b"));
        b.success("a");
        assert!(!b.is_open("a"));
    }
}
