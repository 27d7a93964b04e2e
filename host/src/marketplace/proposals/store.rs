use crate::db::sql::{update_if, Changes};
use crate::db::{now_ms, Conn, Db};

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct ProposalRow {
        pub id: String,
        pub agent_id: Option<String>,
        pub agent_name: Option<String>,
        pub agent_email: Option<String>,
        pub guest_name: Option<String>,
        pub guest_email: Option<String>,
        pub token_hash: Option<String>,
        pub title: String,
        pub description: String,
        pub attachments: String,
        pub status: String,
        pub price_cents: Option<i64>,
        pub response_message: Option<String>,
        pub worker_id: Option<String>,
        pub service_id: Option<String>,
        pub job_id: Option<String>,
        pub job_status: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

const SELECT: &str = "SELECT p.id, p.agent_id, a.name AS agent_name, a.owner_email AS agent_email, p.guest_name, \
    p.guest_email, p.token_hash, p.title, p.description, p.attachments, p.status, p.price_cents, p.response_message, \
    p.worker_id, p.service_id, p.job_id, j.status AS job_status, p.created_at, p.updated_at \
    FROM custom_proposals p LEFT JOIN agents a ON a.id = p.agent_id LEFT JOIN jobs j ON j.id = p.job_id";

pub struct NewProposal<'a> {
    pub id: &'a str,
    pub agent_id: Option<&'a str>,
    pub guest_name: Option<&'a str>,
    pub guest_email: Option<&'a str>,
    pub token_hash: Option<&'a str>,
    pub title: &'a str,
    pub description: &'a str,
    pub attachments: &'a [String],
}

pub async fn insert(c: &mut Conn, p: &NewProposal<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO custom_proposals (id, agent_id, guest_name, guest_email, token_hash, title, description, \
         attachments, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)",
    )
    .bind(p.id)
    .bind(p.agent_id)
    .bind(p.guest_name)
    .bind(p.guest_email)
    .bind(p.token_hash)
    .bind(p.title)
    .bind(p.description)
    .bind(serde_json::to_string(p.attachments).unwrap_or_else(|_| "[]".into()))
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ProposalRow>, sqlx::Error> {
    crate::db::query_as::<ProposalRow>(&format!("{SELECT} WHERE p.id = $1")).bind(id).fetch_optional(&db.read).await
}

pub async fn get_in(c: &mut Conn, id: &str) -> Result<Option<ProposalRow>, sqlx::Error> {
    crate::db::query_as::<ProposalRow>(&format!("{SELECT} WHERE p.id = $1")).bind(id).fetch_optional(c).await
}

/// All proposals, newest first; and how many there are.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(Vec<ProposalRow>, i64), sqlx::Error> {
    let total: i64 = crate::db::query("SELECT COUNT(*) AS n FROM custom_proposals").fetch_one(&db.read).await?.get("n");
    let rows = crate::db::query_as::<ProposalRow>(&format!(
        "{SELECT} ORDER BY p.created_at DESC, p.id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.read)
    .await?;
    Ok((rows, total))
}

/// Moves the proposal to `to` with `changes` if it is in one of `from`; false when it was not.
pub async fn update(c: &mut Conn, id: &str, from: &[&str], to: &str, changes: &Changes) -> Result<bool, sqlx::Error> {
    update_if(c, "custom_proposals", id, from, Some(to), None, changes).await
}
