//! Submitting, reading, quoting and accepting custom proposals, and telling every active agent
//! of a new one.

use std::sync::Arc;

use serde_json::json;

use super::store::{self, NewProposal, ProposalRow};
use super::ProposalError;
use crate::agents::model::AgentStatus;
use crate::agents::store as agents;
use crate::db::sql::Changes;
use crate::db::{new_id, now_ms};
use crate::idempotency::Answer;
use crate::marketplace::jobs::checkout;
use crate::marketplace::jobs::service::{self as jobs, JobOutcome};
use crate::marketplace::services::model::{Fulfilment, ServiceRow, ServiceType, Tier};
use crate::marketplace::services::store as services;
use crate::notifications::model::NoticeKind;
use crate::notifications::{broadcast, Notice};
use crate::scheduler::{Job, KindSpec, Registry};
use crate::secrets;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

pub const PENDING: &str = "pending";
pub const QUOTED: &str = "quoted";
pub const ACCEPTED: &str = "accepted";

/// Who reads a proposal: its agent, an operator, or a guest with its access token.
pub enum Reader<'a> {
    Agent(&'a str),
    Operator,
    Guest(&'a str),
}

pub struct Submission<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub attachments: &'a [String],
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// A new proposal; a guest's comes with the access token that reads and accepts it (shown
/// once).
pub async fn submit(
    app: &App,
    agent_id: Option<&str>,
    s: &Submission<'_>,
) -> Result<(ProposalRow, Option<String>), ProposalError> {
    let title = validate::text("title", s.title, 200)?;
    let description = validate::text("description", s.description, 20_000)?;
    if s.attachments.len() > 10 {
        return Err(fail("attachments", "at most 10").into());
    }
    let attachments = s
        .attachments
        .iter()
        .map(|u| validate::web_url("attachments", u, app.config.access.allow_insecure_urls))
        .collect::<Result<Vec<_>, _>>()?;
    let (name, email, token) = match agent_id {
        Some(_) => (None, None, None),
        None => {
            let name = validate::text("name", s.name.unwrap_or(""), 100)?;
            let email = validate::email("email", s.email.unwrap_or(""))?;
            (Some(name), Some(email), Some(format!("pt_{}", secrets::random_token(40))))
        }
    };
    let hash = token.as_deref().map(secrets::hash_secret);
    let id = new_id();
    let row = NewProposal {
        id: &id,
        agent_id,
        guest_name: name.as_deref(),
        guest_email: email.as_deref(),
        token_hash: hash.as_deref(),
        title: &title,
        description: &description,
        attachments: &attachments,
    };
    let proposal = transaction!(app.db, |c| async {
        store::insert(c, &row).await?;
        crate::scheduler::enqueue(c, ANNOUNCE, Some(&id), &json!({ "proposal_id": id }), None).await?;
        store::get_in(c, &id).await?.ok_or(ProposalError::NotFound)
    })?;
    Ok((proposal, token))
}

/// The proposal, if the reader may see it; anyone else is told it does not exist.
pub async fn get(app: &App, reader: Reader<'_>, id: &str) -> Result<ProposalRow, ProposalError> {
    let row = store::get(&app.db, id).await?.ok_or(ProposalError::NotFound)?;
    let allowed = match reader {
        Reader::Operator => true,
        Reader::Agent(agent) => row.agent_id.as_deref() == Some(agent),
        Reader::Guest(token) => {
            row.token_hash.as_deref().is_some_and(|h| secrets::same_secret(h, &secrets::hash_secret(token)))
        }
    };
    if !allowed {
        return Err(ProposalError::NotFound);
    }
    Ok(row)
}

pub async fn list(app: &App, limit: i64, offset: i64) -> Result<(Vec<ProposalRow>, i64), ProposalError> {
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(fail("limit", "limit must be 1 to 100 and offset not negative").into());
    }
    Ok(store::list(&app.db, limit, offset).await?)
}

/// An operator's quote: the price, a message, and the agent that will do the work, which
/// offers it as an unlisted service of its own. Quoting again replaces the quote.
pub async fn quote(
    app: &App,
    id: &str,
    price_cents: i64,
    message: &str,
    agent: &str,
) -> Result<ProposalRow, ProposalError> {
    let price = validate::cents("priceCents", price_cents, 1, 100_000_000)?;
    let message = validate::optional_text("responseMessage", message, 5_000)?;
    let proposal = store::get(&app.db, id).await?.ok_or(ProposalError::NotFound)?;
    let worker = agents::find(&app.db, agent.trim()).await?.ok_or(ProposalError::AgentNotFound)?;
    if worker.standing() != AgentStatus::Active {
        return Err(fail("agentId", "the agent is not active").into());
    }
    if proposal.agent_id.as_deref() == Some(worker.id.as_str()) {
        return Err(fail("agentId", "the agent that asked cannot do the work").into());
    }
    let now = now_ms();
    let tier = Tier {
        name: "Basic".into(),
        description: String::new(),
        price_cents: price,
        delivery_days: 7,
        features: Vec::new(),
    };
    let service = ServiceRow {
        id: new_id(),
        agent_id: worker.id.clone(),
        title: proposal.title.clone(),
        description: proposal.description.clone(),
        category: "custom".into(),
        price_cents: price,
        tags: "[]".into(),
        tiers: serde_json::to_string(&[tier]).unwrap_or_default(),
        service_type: ServiceType::OneOff.as_str().into(),
        fulfilment: Fulfilment::Manual.as_str().into(),
        run_interval_hours: None,
        // Unlisted: only this proposal's acceptance hires it.
        active: 0,
        created_at: now,
        updated_at: now,
    };
    transaction!(app.db, |c| async {
        services::insert(c, &service).await?;
        let changes = Changes::default()
            .int("price_cents", price)
            .text("response_message", &message)
            .text("worker_id", &worker.id)
            .text("service_id", &service.id);
        if !store::update(c, id, &[PENDING, QUOTED], QUOTED, &changes).await? {
            return Err(ProposalError::Transition { action: "quote", status: proposal.status.clone() });
        }
        store::get_in(c, id).await?.ok_or(ProposalError::NotFound)
    })
}

/// The requester accepts the quote: a job with the quoted agent, paid from `buyer_id`'s wallet
/// or through a checkout. A guest accepts with an agent key and its proposal's token.
pub async fn accept(
    app: &App,
    buyer_id: &str,
    id: &str,
    token: Option<&str>,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, ProposalError> {
    let reader = match token {
        Some(token) => Reader::Guest(token),
        None => Reader::Agent(buyer_id),
    };
    let proposal = get(app, reader, id).await?;
    let refused = |status: &str| ProposalError::Transition { action: "accept", status: status.to_string() };
    let Some(service_id) = proposal.service_id.as_deref().filter(|_| proposal.status == QUOTED) else {
        return Err(refused(&proposal.status));
    };
    let service = services::get(&app.db, service_id).await?.ok_or(ProposalError::NotFound)?;
    let order = jobs::order_for(app, buyer_id, service, None, &proposal.description).await?;
    // Claimed first, so two acceptances make one job; given back if the job cannot be made.
    if !transaction!(app.db, |c| store::update(c, id, &[QUOTED], ACCEPTED, &Changes::default()))? {
        return Err(refused("accepted"));
    }
    match checkout::pay_or_checkout(app, buyer_id, &order, answer).await {
        Ok(done) => {
            let linked = Changes::default().text("job_id", &done.job.id);
            transaction!(app.db, |c| store::update(c, id, &[ACCEPTED], ACCEPTED, &linked))?;
            Ok(done)
        }
        Err(e) => {
            transaction!(app.db, |c| store::update(c, id, &[ACCEPTED], QUOTED, &Changes::default()))?;
            Err(e.into())
        }
    }
}

/// Tells every active agent of a new proposal; keyed by it.
pub const ANNOUNCE: KindSpec = KindSpec::once("proposals.announce");

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(ANNOUNCE, |app: Arc<App>, job: Job| async move {
        let id = job.payload["proposal_id"].as_str().unwrap_or_default().to_string();
        announce(&app, &id).await.map_err(|e| e.to_string())
    });
}

async fn announce(app: &App, id: &str) -> Result<(), sqlx::Error> {
    let Some(p) = store::get(&app.db, id).await? else { return Ok(()) };
    let notice = Notice {
        agent_id: "",
        kind: NoticeKind::Proposal,
        title: format!("New custom proposal: {}", p.title),
        body: p.description.chars().take(300).collect(),
        link: Some(format!("/proposals/{}", p.id)),
        data: json!({"proposalId": p.id, "title": p.title}),
    };
    broadcast(app, p.agent_id.as_deref().unwrap_or_default(), &notice).await
}
