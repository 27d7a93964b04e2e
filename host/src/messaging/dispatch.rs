//! Handlers at work. Delivering a message adds, in the same transaction, a scheduler job per
//! handler of the recipient that applies to it (keyed by agent, handler and message: once
//! each); the job runs the handler as a paid run of the recipient (its wallet holds
//! `messaging_handler_budget_cents`, the compute is billed, the rest refunded, the run recorded
//! as an execution) and carries out what it decided: a reply in the thread, a forward to
//! another address, closing the thread, or nothing.
//!
//! Loops stop: a handler writes at most its `max_turns` messages in one thread, and all
//! handlers together at most `messaging_max_handler_turns` (two auto-replying agents end there).

use std::sync::Arc;
use std::time::Duration;

use agora_runtime::{Execution, HandlerAction, IncomingMessage};
use serde_json::{json, Value};

use super::handlers::{self, HandlerRow};
use super::model::{MessageRow, NewMessage, Recipients, MESSAGE_COLUMNS};
use super::{logs, service, store, MessagingError};
use crate::agents::model::AgentRow;
use crate::db::Conn;
use crate::executions::nested;
use crate::executions::run::{ensure_prepared, invocation, RunError, RunOutcome, Runner};
use crate::executions::service::{self as executions, Charge, Plan};
use crate::gateway::inside::{self, RunModelBudget};
use crate::scheduler::{Backoff, KindSpec, Registry};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger;

pub const HANDLE: KindSpec = KindSpec::once("messaging.handle")
    .timeout(Duration::from_secs(120))
    .attempts(4, Backoff::exponential(Duration::from_secs(2), 4, Duration::from_secs(60)));

/// The longest answer an LLM handler asks for: its worst case must fit the run's budget.
const LLM_MAX_TOKENS: u32 = 1024;

/// The mark an LLM handler ends its answer with to close the thread (`auto_close`).
const CLOSE_MARK: &str = "[close]";

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(HANDLE, |app, job| async move { handle(&app, &job.payload).await });
}

/// Adds a run for each of the recipient's handlers that applies to `m`; true if any.
pub async fn enqueue_in(c: &mut Conn, m: &MessageRow) -> Result<bool, sqlx::Error> {
    let Some(agent_id) = &m.recipient_agent_id else { return Ok(false) };
    let mut any = false;
    for h in handlers::of_agent_in(&mut *c, agent_id).await?.iter().filter(|h| h.applies_to(m)) {
        let key = handlers::run_key(agent_id, &h.name, &m.id);
        let payload = json!({"message_id": m.id, "agent_id": agent_id, "handler": h.name});
        any |= crate::scheduler::enqueue(&mut *c, HANDLE, Some(&key), &payload, None).await?;
    }
    Ok(any)
}

async fn handle(app: &App, payload: &Value) -> Result<(), String> {
    let field = |name: &str| payload[name].as_str().map(str::to_string).ok_or(format!("no {name} in the job"));
    let (message_id, agent_id, name) = (field("message_id")?, field("agent_id")?, field("handler")?);
    let failed = |e: sqlx::Error| e.to_string();
    let Some(h) = handlers::get(&app.db, &agent_id, &name).await.map_err(failed)? else {
        return Ok(()); // removed since
    };
    let Some(m) = store::message(&app.db, &message_id).await.map_err(failed)? else { return Ok(()) };
    let Some(agent) = crate::agents::store::get(&app.db, &agent_id).await.map_err(failed)? else { return Ok(()) };
    if let Some(why) = turns_left(app, &h, &m).await.map_err(failed)? {
        let line = format!("handler {name} not run on message {message_id}: {why}");
        logs::record(app, &agent_id, "info", "handler.skipped", &line).await;
        return Ok(());
    }
    let action = match run(app, &agent, &h, &m).await {
        Ok(action) => action,
        // Nothing ran (no free slot, the component not loadable here): try again later.
        Err(e) if e.never_started() => return Err(format!("{}: {}", e.code, e.message)),
        Err(e) => {
            let line = format!("handler {name} on message {message_id}: {} ({})", e.message, e.code);
            logs::record(app, &agent_id, "warn", "handler.failed", &line).await;
            return Ok(());
        }
    };
    let did = describe(&action);
    match carry_out(app, &agent, &h, &m, action).await {
        Ok(()) => {
            let line = format!("handler {name} on message {message_id}: {did}");
            logs::record(app, &agent_id, "info", "handler.ran", &line).await;
        }
        Err(e) => {
            let line = format!("handler {name} on message {message_id}: its action was refused: {e}");
            logs::record(app, &agent_id, "warn", "handler.refused", &line).await;
        }
    }
    Ok(())
}

/// Why the handler must not write in the thread again, if it must not.
async fn turns_left(app: &App, h: &HandlerRow, m: &MessageRow) -> Result<Option<String>, sqlx::Error> {
    let thread = m.thread_id.as_str();
    let mine = crate::db::query_scalar::<i64>(
        "SELECT COUNT(*) FROM messages WHERE thread_id = $1 AND sender_agent_id = $2 AND sent_by_handler IS NOT NULL",
    )
    .bind(thread)
    .bind(h.agent_id.as_str())
    .fetch_one(&app.db.read)
    .await?;
    if mine >= h.max_turns {
        return Ok(Some(format!("it wrote its {} turns in this thread", h.max_turns)));
    }
    let all = crate::db::query_scalar::<i64>(
        "SELECT COUNT(*) FROM messages WHERE thread_id = $1 AND sent_by_handler IS NOT NULL",
    )
    .bind(thread)
    .fetch_one(&app.db.read)
    .await?;
    let cap = app.config.messaging.messaging_max_handler_turns as i64;
    if all >= cap {
        return Ok(Some(format!("handlers wrote the host's cap of {cap} messages in this thread")));
    }
    let closed = crate::db::query_scalar::<Option<i64>>("SELECT closed_at FROM messaging_threads WHERE id = $1")
        .bind(thread)
        .fetch_one(&app.db.read)
        .await?;
    Ok(closed.map(|_| "the thread is closed".to_string()))
}

/// Runs the handler on `m`, paid by its agent; what it decided.
async fn run(app: &App, agent: &AgentRow, h: &HandlerRow, m: &MessageRow) -> Result<HandlerAction, RunError> {
    let refused = |e: MessagingError| RunError { code: "unavailable", message: e.to_string() };
    let runner = match (h.kind.as_str(), &h.component_id) {
        ("component", Some(id)) => {
            let c = app.components.get(&app.db, id).await.map_err(|e| refused(e.into()))?;
            Runner::Component(
                c.ok_or_else(|| RunError { code: "invalid_input", message: "its component is gone".into() })?,
            )
        }
        _ => Runner::Prompt {
            system_prompt: h.prompt.clone().unwrap_or_default(),
            model: h.model.clone().unwrap_or_else(|| "auto".into()),
        },
    };
    let budget = app.config.messaging.messaging_handler_budget_cents as i64;
    let text = handlers::text_of(&m.body);
    let plan = Plan {
        agent,
        runner: &runner,
        buyer_id: &agent.id,
        payer_id: &agent.id,
        hold_cents: budget,
        hold_description: "Message handler",
        compute_cents: budget,
        task_id: None,
        input: &text,
        params: None,
        nesting: Default::default(),
        cleared: None,
    };
    let started = executions::begin(app, &plan).await.map_err(|e| match e {
        crate::executions::ExecutionError::TooManyExecutions { .. } => {
            RunError { code: "busy", message: e.to_string() }
        }
        other => RunError { code: "refused", message: other.to_string() },
    })?;
    let models = Arc::new(RunModelBudget::new(&agent.id, &started.execution_id, budget));
    let (mut outcome, action) = match &runner {
        Runner::Component(c) => {
            if let Err(e) = ensure_prepared(app, c).await {
                tracing::error!(component = %c.id, error = %e, "handler component not runnable");
            }
            let inv = invocation(app, c, agent.id.clone(), started.fuel());
            let inv = nested::attach(app, inv, &started.execution_id, &agent.id, &plan.nesting, &models);
            let incoming = IncomingMessage {
                id: m.id.clone(),
                thread_id: m.thread_id.clone(),
                from: m.from_address.clone(),
                to: m.to_address.clone(),
                content: text.clone(),
                content_type: m.content_type.clone(),
                timestamp_ms: m.created_at.max(0) as u64,
            };
            let ran = app.runtime.run_handler(&c.digest, incoming, inv).await;
            let action = ran.result.clone().ok();
            let Execution { result, usage, logs, stdout, stderr } = ran;
            let result = result.map(|a| describe(&a));
            (RunOutcome::from_run(Execution { result, usage, logs, stdout, stderr }), action)
        }
        Runner::Prompt { system_prompt, model } => {
            let begun = std::time::Instant::now();
            let history = thread_context(app, m).await.map_err(|e| refused(e.into()))?;
            let mut messages = vec![json!({"role": "system", "content": llm_instructions(system_prompt, h)})];
            messages.extend(
                history
                    .iter()
                    .map(|(mine, text)| json!({"role": if *mine { "assistant" } else { "user" }, "content": text})),
            );
            let body = json!({"model": model, "messages": messages, "max_tokens": LLM_MAX_TOKENS});
            let answer = inside::chat(app, &models, body).await.map(|a| a.content).map_err(RunError::from);
            let action = answer.as_ref().ok().map(|text| llm_action(text, h));
            (RunOutcome::remote(answer, begun.elapsed()), action)
        }
        Runner::Endpoint(_) => {
            (RunOutcome::failed("invalid_input", "a handler is a component or a prompt".into()), None)
        }
    };
    outcome.model_micros = models.spent_micros();
    let compute = outcome.compute_cents(app, budget);
    let (o, s) = (&outcome, &started);
    let settled = transaction!(app.db, |c| async move {
        let charge = Charge { payee: ledger::Payee::new(&agent.id, None), price: 0, compute, paid_elsewhere: None };
        executions::settle_in(c, app, s, o, charge).await.map(drop)
    });
    if let Err(e) = settled {
        tracing::error!(error = %e, execution = %started.execution_id, "settling a handler run failed");
    }
    match (action, outcome.result) {
        (Some(action), Ok(_)) => Ok(action),
        (_, Err(e)) => Err(e),
        (None, Ok(_)) => Err(RunError { code: "trap", message: "the handler decided nothing".into() }),
    }
}

/// The handler's action as its run's recorded output.
fn describe(a: &HandlerAction) -> String {
    match a {
        HandlerAction::Reply(text) => json!({"action": "reply", "content": text}),
        HandlerAction::Forward { to, note } => json!({"action": "forward", "to": to, "note": note}),
        HandlerAction::CloseThread => json!({"action": "close-thread"}),
        HandlerAction::Ignore => json!({"action": "ignore"}),
    }
    .to_string()
}

fn llm_instructions(prompt: &str, h: &HandlerRow) -> String {
    let mut text = if prompt.trim().is_empty() {
        "You answer messages sent to an agent. Reply briefly and helpfully.".to_string()
    } else {
        prompt.to_string()
    };
    if h.auto_close != 0 {
        text.push_str(&format!("\n\nWhen the conversation is finished, end your reply with {CLOSE_MARK}."));
    }
    text
}

/// An LLM's answer as a handler's action: a reply (which, ending with the mark, also closes the
/// thread when the handler may close it), or only closing when the mark is all it said.
fn llm_action(answer: &str, h: &HandlerRow) -> HandlerAction {
    if h.auto_close != 0 && answer.trim() == CLOSE_MARK {
        return HandlerAction::CloseThread;
    }
    HandlerAction::Reply(answer.trim_end().to_string())
}

/// The thread so far as the LLM sees it, oldest first: (written by the handler's agent, text).
async fn thread_context(app: &App, m: &MessageRow) -> Result<Vec<(bool, String)>, sqlx::Error> {
    let agent = m.recipient_agent_id.as_deref().unwrap_or_default();
    let rows = crate::db::query_as::<MessageRow>(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 AND created_at <= $2 \
         AND (recipient_agent_id = $3 OR sender_agent_id = $3) ORDER BY created_at DESC, id DESC LIMIT 20"
    ))
    .bind(m.thread_id.as_str())
    .bind(m.created_at)
    .bind(agent)
    .fetch_all(&app.db.read)
    .await?;
    Ok(rows.iter().rev().map(|r| (r.sender_agent_id.as_deref() == Some(agent), handlers::text_of(&r.body))).collect())
}

/// Does what the handler decided, as its agent.
async fn carry_out(
    app: &App,
    agent: &AgentRow,
    h: &HandlerRow,
    m: &MessageRow,
    action: HandlerAction,
) -> Result<(), MessagingError> {
    let (reply, close) = match action {
        HandlerAction::Ignore => return Ok(()),
        HandlerAction::CloseThread => (None, true),
        HandlerAction::Reply(text) => match text.strip_suffix(CLOSE_MARK) {
            Some(rest) if h.auto_close != 0 => (Some(rest.trim_end().to_string()), true),
            _ => (Some(text), false),
        },
        HandlerAction::Forward { to, note } => {
            let original: Value = serde_json::from_str(&m.body).unwrap_or_default();
            let text = note.unwrap_or_else(|| handlers::text_of(&m.body));
            let body = json!({"text": text, "forwarded": {"id": m.id, "from": m.from_address, "body": original}});
            let forward = NewMessage {
                to: Recipients::One(to),
                body,
                thread_id: None,
                reply_to: None,
                content_type: Some(m.content_type.clone()),
                close_thread: false,
                a2a_auth: None,
            };
            return service::send_from(app, &agent.id, forward, Some(&h.name)).await.map(drop);
        }
    };
    match reply {
        Some(text) => {
            let answer = NewMessage {
                to: Recipients::One(m.from_address.clone()),
                body: json!({"text": text}),
                thread_id: Some(m.thread_id.clone()),
                reply_to: Some(m.id.clone()),
                content_type: None,
                close_thread: close,
                a2a_auth: None,
            };
            service::send_from(app, &agent.id, answer, Some(&h.name)).await.map(drop)
        }
        None => service::close(app, &agent.id, &m.thread_id).await,
    }
}
