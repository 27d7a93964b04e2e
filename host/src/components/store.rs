use crate::db::Conn;

use super::model::{ComponentRow, COMPONENT_COLUMNS};
use crate::db::sql::{like_pattern, Arg, SqlBuf};
use crate::db::{now_ms, Db};

pub struct NewComponent<'a> {
    pub id: &'a str,
    pub publisher_id: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub description: &'a str,
    pub digest: &'a str,
    pub size_bytes: i64,
    pub grants: &'a str,
    pub imports: &'a str,
    pub signature: Option<&'a str>,
    pub signing_key_id: Option<&'a str>,
}

/// Component bytes are stored in chunks of this size: no row, and no message between the
/// host and its database, is larger (database connections keep buffers as large as the
/// largest message they carried).
const CHUNK_BYTES: usize = 1 << 20;

/// Stores the bytes under their digest; the same bytes twice are stored once.
pub async fn put_blob(conn: &mut Conn, digest: &str, bytes: &[u8]) -> Result<(), sqlx::Error> {
    let fresh = crate::db::query(
        "INSERT INTO component_blobs (digest, bytes, size_bytes, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(Vec::<u8>::new())
    .bind(bytes.len() as i64)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        for (seq, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
            crate::db::query("INSERT INTO component_blob_chunks (digest, seq, bytes) VALUES ($1, $2, $3)")
                .bind(digest)
                .bind(seq as i64)
                .bind(chunk.to_vec())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// The bytes stored under `digest`, read chunk by chunk.
pub async fn blob(db: &Db, digest: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let Some(row) = crate::db::query("SELECT size_bytes FROM component_blobs WHERE digest = $1")
        .bind(digest)
        .fetch_optional(&db.read)
        .await?
    else {
        return Ok(None);
    };
    let size: i64 = row.get("size_bytes");
    let mut bytes = Vec::with_capacity(size.max(0) as usize);
    let mut conn = db.read.acquire().await?;
    for seq in 0.. {
        let chunk = crate::db::query("SELECT bytes FROM component_blob_chunks WHERE digest = $1 AND seq = $2")
            .bind(digest)
            .bind(seq as i64)
            .fetch_optional(&mut *conn)
            .await?;
        match chunk {
            Some(row) => bytes.extend_from_slice(&row.get::<Vec<u8>, _>("bytes")),
            None => break,
        }
    }
    Ok(Some(bytes))
}

/// How many components an agent published and their summed size.
pub async fn usage_of<'c>(
    on: impl Into<crate::db::query::On<'c>>,
    publisher_id: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let row = crate::db::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes FROM components \
         WHERE publisher_id = $1",
    )
    .bind(publisher_id)
    .fetch_one(on)
    .await?;
    Ok((row.get("n"), row.get("bytes")))
}

pub async fn insert(conn: &mut Conn, c: &NewComponent<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO components (id, publisher_id, kind, name, version, description, digest, size_bytes, grants, \
         imports, signature, signing_key_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(c.id)
    .bind(c.publisher_id)
    .bind(c.kind)
    .bind(c.name)
    .bind(c.version)
    .bind(c.description)
    .bind(c.digest)
    .bind(c.size_bytes)
    .bind(c.grants)
    .bind(c.imports)
    .bind(c.signature)
    .bind(c.signing_key_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ComponentRow>, sqlx::Error> {
    crate::db::query_as::<ComponentRow>(&format!(
        "SELECT {COMPONENT_COLUMNS} FROM components c JOIN agents a ON a.id = c.publisher_id WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.read)
    .await
}

pub struct ListFilter<'a> {
    pub kind: Option<&'a str>,
    pub publisher: Option<&'a str>,
    pub q: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list(db: &Db, f: &ListFilter<'_>) -> Result<(Vec<ComponentRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec!["1 = 1".to_string()];
    if let Some(kind) = f.kind {
        filters.push(format!("c.kind = {}", q.arg(Arg::Text(kind.to_string()))));
    }
    if let Some(p) = f.publisher {
        filters.push(format!("c.publisher_id = {}", q.arg(Arg::Text(p.to_string()))));
    }
    if let Some(text) = f.q {
        let p = q.arg(Arg::Text(like_pattern(text)));
        filters.push(format!("(LOWER(c.name) LIKE {p} ESCAPE '\\' OR LOWER(c.description) LIKE {p} ESCAPE '\\')"));
    }
    let where_sql = filters.join(" AND ");
    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n FROM components c WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");
    let (pl, po) = (q.arg(Arg::Int(f.limit)), q.arg(Arg::Int(f.offset)));
    q.sql = format!(
        "SELECT {COMPONENT_COLUMNS} FROM components c JOIN agents a ON a.id = c.publisher_id WHERE {where_sql} \
         ORDER BY c.created_at DESC, c.id DESC LIMIT {pl} OFFSET {po}"
    );
    let rows = q.query().fetch_all(&db.read).await?;
    let rows = rows.iter().map(<ComponentRow as crate::db::FromRow>::from_row).collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// The agent's registered, unrevoked signing keys: (id, hex public key).
pub async fn signing_keys(db: &Db, agent_id: &str) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT id, public_key, created_at FROM signing_keys WHERE agent_id = $1 AND revoked_at IS NULL ORDER BY created_at",
    )
    .bind(agent_id)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("public_key"), r.get("created_at"))).collect())
}

pub async fn add_signing_key(conn: &mut Conn, id: &str, agent_id: &str, public_key: &str) -> Result<bool, sqlx::Error> {
    Ok(crate::db::query(
        "INSERT INTO signing_keys (id, agent_id, public_key, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (agent_id, public_key) DO NOTHING",
    )
    .bind(id)
    .bind(agent_id)
    .bind(public_key)
    .bind(now_ms())
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}
