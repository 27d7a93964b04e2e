//! The guardrails' SQL: policies, approvals and the audit log.

use super::model::{Effect, Match, Module, Policy};
use crate::db::{now_ms, Append, Conn, Db};

crate::row_struct! {
    pub struct PolicyRow {
        pub id: String,
        pub agent_id: Option<String>,
        pub name: String,
        pub effect: String,
        pub match_rules: String,
        pub component_id: Option<String>,
        pub settings: String,
        pub fail_open: i64,
        pub priority: i64,
        pub enabled: i64,
        pub description: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

impl PolicyRow {
    pub fn policy(self) -> Policy {
        let module = self.component_id.map(|component_id| Module {
            component_id,
            settings: serde_json::from_str(&self.settings).unwrap_or_default(),
            fail_open: self.fail_open != 0,
        });
        Policy {
            effect: self.effect.parse().unwrap_or(Effect::Deny),
            module,
            rules: serde_json::from_str::<Match>(&self.match_rules).unwrap_or_default(),
            enabled: self.enabled != 0,
            id: self.id,
            agent_id: self.agent_id,
            name: self.name,
            priority: self.priority,
            description: self.description,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const POLICY_COLUMNS: &str = "id, agent_id, name, effect, match_rules, component_id, settings, fail_open, priority, \
     enabled, description, created_at, updated_at";

/// The operator's policies and `agent_id`'s; every policy with `""`.
pub async fn policies(db: &Db, agent_id: &str) -> Result<Vec<Policy>, sqlx::Error> {
    let rows = crate::db::query_as::<PolicyRow>(&format!(
        "SELECT {POLICY_COLUMNS} FROM guardrail_policies WHERE $1 = '' OR agent_id IS NULL OR agent_id = $1 \
         ORDER BY created_at, id"
    ))
    .bind(agent_id)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.into_iter().map(PolicyRow::policy).collect())
}

pub async fn policy(db: &Db, id: &str) -> Result<Option<Policy>, sqlx::Error> {
    let row =
        crate::db::query_as::<PolicyRow>(&format!("SELECT {POLICY_COLUMNS} FROM guardrail_policies WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.read)
            .await?;
    Ok(row.map(PolicyRow::policy))
}

/// Inserts the policy, or updates the owner's policy of that name; answers its id and whether
/// it is new.
pub async fn upsert_policy(c: &mut Conn, p: &Policy, owner: &str) -> Result<(String, bool), sqlx::Error> {
    let rules = serde_json::to_string(&p.rules).expect("a match serialises");
    let effect = if p.module.is_some() { "module" } else { p.effect.as_str() };
    let component = p.module.as_ref().map(|m| m.component_id.clone());
    let settings = p.module.as_ref().map_or_else(|| "{}".to_string(), |m| m.settings.to_string());
    let fail_open = i64::from(p.module.as_ref().is_some_and(|m| m.fail_open));
    let existing: Option<String> =
        crate::db::query_scalar("SELECT id FROM guardrail_policies WHERE owner = $1 AND name = $2")
            .bind(owner)
            .bind(&p.name)
            .fetch_optional(&mut *c)
            .await?;
    if let Some(id) = existing {
        crate::db::query(
            "UPDATE guardrail_policies SET effect = $1, match_rules = $2, priority = $3, enabled = $4, \
             description = $5, updated_at = $6, component_id = $8, settings = $9, fail_open = $10 WHERE id = $7",
        )
        .bind(effect)
        .bind(rules)
        .bind(p.priority)
        .bind(i64::from(p.enabled))
        .bind(&p.description)
        .bind(now_ms())
        .bind(&id)
        .bind(&component)
        .bind(&settings)
        .bind(fail_open)
        .execute(c)
        .await?;
        return Ok((id, false));
    }
    crate::db::query(
        "INSERT INTO guardrail_policies (id, agent_id, owner, name, effect, match_rules, priority, enabled, \
         description, created_at, updated_at, component_id, settings, fail_open) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13)",
    )
    .bind(&p.id)
    .bind(&p.agent_id)
    .bind(owner)
    .bind(&p.name)
    .bind(effect)
    .bind(rules)
    .bind(p.priority)
    .bind(i64::from(p.enabled))
    .bind(&p.description)
    .bind(now_ms())
    .bind(&component)
    .bind(&settings)
    .bind(fail_open)
    .execute(c)
    .await?;
    Ok((p.id.clone(), true))
}

pub async fn delete_policy(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done = db.execute(crate::db::query("DELETE FROM guardrail_policies WHERE id = $1").bind(id)).await?;
    Ok(done.rows_affected() == 1)
}

crate::row_struct! {
    pub struct ApprovalRow {
        pub id: String,
        pub agent_id: String,
        pub workspace_id: Option<String>,
        pub mission_id: Option<String>,
        pub task_id: Option<String>,
        pub policy_id: Option<String>,
        pub fingerprint: String,
        pub action: String,
        pub reason: String,
        pub status: String,
        pub decided_by: Option<String>,
        pub note: Option<String>,
        pub decided_at: Option<i64>,
        pub used_at: Option<i64>,
        pub expires_at: i64,
        pub created_at: i64,
    }
}

pub const APPROVAL_COLUMNS: &str = "id, agent_id, workspace_id, mission_id, task_id, policy_id, fingerprint, action, \
     reason, status, decided_by, note, decided_at, used_at, expires_at, created_at";

pub async fn approval_in(c: &mut Conn, id: &str) -> Result<Option<ApprovalRow>, sqlx::Error> {
    crate::db::query_as::<ApprovalRow>(&format!("SELECT {APPROVAL_COLUMNS} FROM guardrail_approvals WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The approval a host action without an approval id stands on: the newest approved one of the
/// same action, else the newest still pending.
pub async fn standing_approval(c: &mut Conn, agent_id: &str, fingerprint: &str) -> Result<Option<String>, sqlx::Error> {
    crate::db::query_scalar::<String>(
        "SELECT id FROM guardrail_approvals WHERE agent_id = $1 AND fingerprint = $2 \
         AND (status = 'approved' OR (status = 'pending' AND expires_at > $3)) \
         ORDER BY CASE WHEN status = 'approved' THEN 0 ELSE 1 END, created_at DESC LIMIT 1",
    )
    .bind(agent_id)
    .bind(fingerprint)
    .bind(now_ms())
    .fetch_optional(c)
    .await
}

pub struct NewApproval<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub workspace_id: Option<&'a str>,
    pub mission_id: Option<&'a str>,
    pub task_id: Option<&'a str>,
    pub policy_id: Option<&'a str>,
    pub fingerprint: &'a str,
    /// The action, as JSON.
    pub action: &'a str,
    pub reason: &'a str,
    pub expires_at: i64,
}

pub async fn insert_approval(c: &mut Conn, a: &NewApproval<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO guardrail_approvals (id, agent_id, workspace_id, mission_id, task_id, policy_id, fingerprint, \
         action, reason, status, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11)",
    )
    .bind(a.id)
    .bind(a.agent_id)
    .bind(a.workspace_id)
    .bind(a.mission_id)
    .bind(a.task_id)
    .bind(a.policy_id)
    .bind(a.fingerprint)
    .bind(a.action)
    .bind(a.reason)
    .bind(a.expires_at)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Moves an approval from `from` to `to`; false when it was no longer `from`.
pub async fn move_approval(
    c: &mut Conn,
    id: &str,
    from: &str,
    to: &str,
    decided_by: Option<&str>,
    note: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let (decided_at, used_at) = if to == "used" { (None, Some(now)) } else { (Some(now), None) };
    let done = crate::db::query(
        "UPDATE guardrail_approvals SET status = $1, decided_by = COALESCE($2, decided_by), \
         note = COALESCE($3, note), decided_at = COALESCE($4, decided_at), used_at = COALESCE($5, used_at) \
         WHERE id = $6 AND status = $7",
    )
    .bind(to)
    .bind(decided_by)
    .bind(note)
    .bind(decided_at)
    .bind(used_at)
    .bind(id)
    .bind(from)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One audit event.
#[derive(Debug, Default)]
pub struct AuditEvent<'a> {
    pub id: &'a str,
    pub agent_id: Option<&'a str>,
    pub actor: &'a str,
    pub event: &'a str,
    pub decision: Option<&'a str>,
    pub policy_id: Option<&'a str>,
    pub module_digest: Option<&'a str>,
    pub approval_id: Option<&'a str>,
    pub app: Option<&'a str>,
    pub tool_ref: Option<&'a str>,
    pub action_type: Option<&'a str>,
    pub workspace_id: Option<&'a str>,
    pub mission_id: Option<&'a str>,
    pub input: &'a str,
    pub reason: Option<&'a str>,
    pub elapsed_us: Option<i64>,
}

/// Appends the event when the transaction commits (the log is append-only: nothing reads it
/// back before then).
pub fn append_audit(c: &mut Conn, e: &AuditEvent<'_>) {
    c.append(
        Append::into("guardrail_audit")
            .value("id", e.id)
            .value("agent_id", e.agent_id)
            .value("actor", e.actor)
            .value("event", e.event)
            .value("decision", e.decision)
            .value("policy_id", e.policy_id)
            .value("approval_id", e.approval_id)
            .value("app", e.app)
            .value("tool_ref", e.tool_ref)
            .value("action_type", e.action_type)
            .value("workspace_id", e.workspace_id)
            .value("mission_id", e.mission_id)
            .value("input", e.input)
            .value("reason", e.reason)
            .value("elapsed_us", e.elapsed_us)
            .value("created_at", now_ms())
            .value("module_digest", e.module_digest),
    );
}
