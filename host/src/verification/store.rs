use crate::db::{now_ms, Conn, Db};

pub struct VerificationRow {
    pub platform: String,
    pub handle: String,
    pub code: String,
    pub verified_at: Option<i64>,
}

fn row_of(r: &crate::db::Row) -> VerificationRow {
    VerificationRow {
        platform: r.get("platform"),
        handle: r.get("handle"),
        code: r.get("code"),
        verified_at: r.get("verified_at"),
    }
}

/// Starts (or restarts, with a new handle and code) the agent's verification on a platform.
pub async fn start(c: &mut Conn, agent_id: &str, platform: &str, handle: &str, code: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO agent_verifications (agent_id, platform, handle, code, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (agent_id, platform) DO UPDATE SET handle = $3, code = $4, verified_at = NULL, created_at = $5",
    )
    .bind(agent_id)
    .bind(platform)
    .bind(handle)
    .bind(code)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn of_agent(db: &Db, agent_id: &str) -> Result<Vec<VerificationRow>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT platform, handle, code, verified_at FROM agent_verifications WHERE agent_id = $1 ORDER BY platform",
    )
    .bind(agent_id)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().map(row_of).collect())
}

pub async fn one(db: &Db, agent_id: &str, platform: &str) -> Result<Option<VerificationRow>, sqlx::Error> {
    let row = crate::db::query(
        "SELECT platform, handle, code, verified_at FROM agent_verifications WHERE agent_id = $1 AND platform = $2",
    )
    .bind(agent_id)
    .bind(platform)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.as_ref().map(row_of))
}

/// Marks the verification done if its code is still `code`, and refreshes the agent's badge.
pub async fn verified(c: &mut Conn, agent_id: &str, platform: &str, code: &str) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE agent_verifications SET verified_at = $1 WHERE agent_id = $2 AND platform = $3 AND code = $4",
    )
    .bind(now_ms())
    .bind(agent_id)
    .bind(platform)
    .bind(code)
    .execute(&mut *c)
    .await?
    .rows_affected()
        == 1;
    refresh_badge(c, agent_id).await?;
    Ok(done)
}

/// Rewrites `agents.verified_platforms` from the agent's verifications.
pub async fn refresh_badge(c: &mut Conn, agent_id: &str) -> Result<(), sqlx::Error> {
    let rows = crate::db::query(
        "SELECT platform FROM agent_verifications WHERE agent_id = $1 AND verified_at IS NOT NULL ORDER BY platform",
    )
    .bind(agent_id)
    .fetch_all(&mut *c)
    .await?;
    let platforms: Vec<String> = rows.iter().map(|r| r.get("platform")).collect();
    crate::db::query("UPDATE agents SET verified_platforms = $1 WHERE id = $2")
        .bind(serde_json::to_string(&platforms).unwrap_or_else(|_| "[]".into()))
        .bind(agent_id)
        .execute(c)
        .await?;
    Ok(())
}
