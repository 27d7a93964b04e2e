//! The skills' tables: listings, licences and reviews.

use super::model::{LicenseRow, LicenseStatus, SkillRow, LICENSE_COLUMNS, SKILL_COLUMNS};
use crate::db::sql::{like_pattern, qualified, update_if, Arg, Changes, SqlBuf};
use crate::db::{Conn, Db, Row};

pub async fn insert(c: &mut Conn, s: &SkillRow) -> Result<(), sqlx::Error> {
    crate::db::query(&format!(
        "INSERT INTO skills ({SKILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19)"
    ))
    .bind(&s.id)
    .bind(&s.author_id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(&s.category)
    .bind(&s.tags)
    .bind(&s.compatibility)
    .bind(&s.version)
    .bind(&s.pricing_model)
    .bind(s.price_cents)
    .bind(&s.component_id)
    .bind(&s.download_url)
    .bind(&s.describe_json)
    .bind(s.listed)
    .bind(s.rating_sum)
    .bind(s.rating_count)
    .bind(s.install_count)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Writes every editable column of `s` (the caller merged the patch into it).
pub async fn update(c: &mut Conn, s: &SkillRow) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE skills SET title = $1, description = $2, category = $3, tags = $4, compatibility = $5, version = $6, \
         pricing_model = $7, price_cents = $8, component_id = $9, download_url = $10, describe_json = $11, \
         listed = $12, updated_at = $13 WHERE id = $14",
    )
    .bind(&s.title)
    .bind(&s.description)
    .bind(&s.category)
    .bind(&s.tags)
    .bind(&s.compatibility)
    .bind(&s.version)
    .bind(&s.pricing_model)
    .bind(s.price_cents)
    .bind(&s.component_id)
    .bind(&s.download_url)
    .bind(&s.describe_json)
    .bind(s.listed)
    .bind(s.updated_at)
    .bind(&s.id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<SkillRow>, sqlx::Error> {
    crate::db::query_as::<SkillRow>(&format!("SELECT {SKILL_COLUMNS} FROM skills WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

/// What a listing is filtered and ordered by.
#[derive(Debug, Default)]
pub struct Filter {
    pub category: Option<String>,
    pub compatibility: Option<String>,
    pub pricing_model: Option<String>,
    pub q: Option<String>,
    /// Hundredths of a rating point.
    pub min_rating_x100: Option<i64>,
    pub author_id: Option<String>,
    /// Delisted skills too (an author looking at its own).
    pub with_delisted: bool,
    pub sort: Sort,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Popular,
    Rating,
    PriceLow,
    PriceHigh,
}

/// One page of skills matching `f` with their authors' names, and the total.
pub async fn list(db: &Db, f: &Filter, limit: i64, offset: i64) -> Result<(Vec<(SkillRow, String)>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec!["1 = 1".to_string()];
    if !f.with_delisted {
        filters.push("s.listed = 1".into());
    }
    if let Some(category) = &f.category {
        filters.push(format!("LOWER(s.category) = {}", q.arg(Arg::Text(category.to_lowercase()))));
    }
    if let Some(framework) = &f.compatibility {
        // Stored as a JSON array of lowercase labels: match one whole element.
        let element = q.arg(Arg::Text(like_pattern(&format!("\"{}\"", framework.to_lowercase()))));
        filters.push(format!("s.compatibility LIKE {element} ESCAPE '\\'"));
    }
    if let Some(model) = &f.pricing_model {
        filters.push(format!("s.pricing_model = {}", q.arg(Arg::Text(model.clone()))));
    }
    if let Some(text) = &f.q {
        let p = q.arg(Arg::Text(like_pattern(text)));
        filters.push(format!("(LOWER(s.title) LIKE {p} ESCAPE '\\' OR LOWER(s.description) LIKE {p} ESCAPE '\\')"));
    }
    if let Some(min) = f.min_rating_x100 {
        let p = q.arg(Arg::Int(min));
        filters.push(format!("s.rating_count > 0 AND s.rating_sum * 100 >= {p} * s.rating_count"));
    }
    if let Some(author) = &f.author_id {
        filters.push(format!("s.author_id = {}", q.arg(Arg::Text(author.clone()))));
    }
    let where_sql = filters.join(" AND ");
    let from = "FROM skills s JOIN agents a ON a.id = s.author_id";
    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n {from} WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");

    let order = match f.sort {
        Sort::Newest => "s.created_at DESC, s.id DESC",
        Sort::Popular => "s.install_count DESC, s.created_at DESC, s.id DESC",
        Sort::Rating => {
            "CASE WHEN s.rating_count = 0 THEN 1 ELSE 0 END, \
             CAST(s.rating_sum AS REAL) / CASE WHEN s.rating_count = 0 THEN 1 ELSE s.rating_count END DESC, \
             s.created_at DESC, s.id DESC"
        }
        Sort::PriceLow => "s.price_cents ASC, s.created_at DESC, s.id DESC",
        Sort::PriceHigh => "s.price_cents DESC, s.created_at DESC, s.id DESC",
    };
    let (pl, po) = (q.arg(Arg::Int(limit)), q.arg(Arg::Int(offset)));
    let columns = qualified(SKILL_COLUMNS, "s");
    q.sql = format!(
        "SELECT {columns}, a.name AS author_name {from} WHERE {where_sql} ORDER BY {order} LIMIT {pl} OFFSET {po}"
    );
    let rows = q.query().fetch_all(&db.read).await?;
    let skills = rows
        .iter()
        .map(|r| Ok((<SkillRow as crate::db::FromRow>::from_row(r)?, r.try_get::<String, _>("author_name")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((skills, total))
}

/// The categories of listed skills, alphabetically.
pub async fn categories(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let rows = crate::db::query("SELECT DISTINCT category FROM skills WHERE listed = 1 ORDER BY category LIMIT 200")
        .fetch_all(&db.read)
        .await?;
    rows.iter().map(|r| r.try_get("category")).collect()
}

pub async fn count_install_in(c: &mut Conn, skill_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE skills SET install_count = install_count + 1 WHERE id = $1")
        .bind(skill_id)
        .execute(c)
        .await?;
    Ok(())
}

/// Records a licence holder's one review; false when it reviewed this skill before.
pub async fn insert_review(
    c: &mut Conn,
    skill_id: &str,
    reviewer_id: &str,
    rating: i64,
    comment: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = crate::db::query(
        "INSERT INTO skill_reviews (skill_id, reviewer_id, rating, comment, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (skill_id, reviewer_id) DO NOTHING",
    )
    .bind(skill_id)
    .bind(reviewer_id)
    .bind(rating)
    .bind(comment)
    .bind(now)
    .execute(&mut *c)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    crate::db::query("UPDATE skills SET rating_sum = rating_sum + $1, rating_count = rating_count + 1 WHERE id = $2")
        .bind(rating)
        .bind(skill_id)
        .execute(c)
        .await?;
    Ok(true)
}

// Licences.

pub async fn insert_license(c: &mut Conn, l: &LicenseRow) -> Result<(), sqlx::Error> {
    crate::db::query(&format!(
        "INSERT INTO skill_licenses ({LICENSE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15)"
    ))
    .bind(&l.id)
    .bind(&l.skill_id)
    .bind(&l.buyer_id)
    .bind(&l.key_hash)
    .bind(&l.key_prefix)
    .bind(&l.pricing_model)
    .bind(l.price_cents)
    .bind(&l.status)
    .bind(l.auto_renew)
    .bind(l.expires_at)
    .bind(&l.checkout_id)
    .bind(l.paid_cents)
    .bind(&l.status_reason)
    .bind(l.created_at)
    .bind(l.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn license(db: &Db, id: &str) -> Result<Option<LicenseRow>, sqlx::Error> {
    crate::db::query_as::<LicenseRow>(&format!("SELECT {LICENSE_COLUMNS} FROM skill_licenses WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

pub async fn license_in(c: &mut Conn, id: &str) -> Result<Option<LicenseRow>, sqlx::Error> {
    crate::db::query_as::<LicenseRow>(&format!("SELECT {LICENSE_COLUMNS} FROM skill_licenses WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The buyer's pending or active licence of the skill, if any.
pub async fn live_license(db: &Db, skill_id: &str, buyer_id: &str) -> Result<Option<LicenseRow>, sqlx::Error> {
    crate::db::query_as::<LicenseRow>(&format!(
        "SELECT {LICENSE_COLUMNS} FROM skill_licenses WHERE skill_id = $1 AND buyer_id = $2 \
         AND status IN ('pending_payment', 'active')"
    ))
    .bind(skill_id)
    .bind(buyer_id)
    .fetch_optional(&db.read)
    .await
}

/// A licence found by its key, with what `/api/skills/verify` shows of its skill and buyer.
pub struct KeyedLicense {
    pub license: LicenseRow,
    pub skill_title: String,
    pub skill_version: String,
    pub buyer_name: String,
}

pub async fn license_by_key_hash(db: &Db, key_hash: &str) -> Result<Option<KeyedLicense>, sqlx::Error> {
    let columns = qualified(LICENSE_COLUMNS, "l");
    let row = crate::db::query(&format!(
        "SELECT {columns}, s.title AS skill_title, s.version AS skill_version, a.name AS buyer_name \
         FROM skill_licenses l JOIN skills s ON s.id = l.skill_id JOIN agents a ON a.id = l.buyer_id \
         WHERE l.key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(&db.read)
    .await?;
    row.map(|r: Row| {
        Ok(KeyedLicense {
            license: <LicenseRow as crate::db::FromRow>::from_row(&r)?,
            skill_title: r.try_get("skill_title")?,
            skill_version: r.try_get("skill_version")?,
            buyer_name: r.try_get("buyer_name")?,
        })
    })
    .transpose()
}

/// The buyer's licences, newest first, with their skills' titles.
pub async fn licenses_of(
    db: &Db,
    buyer_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(LicenseRow, String)>, i64), sqlx::Error> {
    let total: i64 = crate::db::query_scalar("SELECT COUNT(*) FROM skill_licenses WHERE buyer_id = $1")
        .bind(buyer_id)
        .fetch_one(&db.read)
        .await?;
    let columns = qualified(LICENSE_COLUMNS, "l");
    let rows = crate::db::query(&format!(
        "SELECT {columns}, s.title AS skill_title FROM skill_licenses l JOIN skills s ON s.id = l.skill_id \
         WHERE l.buyer_id = $1 ORDER BY l.created_at DESC, l.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(buyer_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.read)
    .await?;
    let licenses = rows
        .iter()
        .map(|r| Ok((<LicenseRow as crate::db::FromRow>::from_row(r)?, r.try_get::<String, _>("skill_title")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((licenses, total))
}

/// Moves a licence from one of `from` to `to` with `changes`; false when it was not in `from`.
pub async fn transition(
    c: &mut Conn,
    id: &str,
    from: &[LicenseStatus],
    to: LicenseStatus,
    changes: &Changes,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    update_if(c, "skill_licenses", id, &from, Some(to.as_str()), None, changes).await
}

/// Active subscription licences whose period ended by `now`, oldest first.
pub async fn due_subscriptions(db: &Db, now: i64, limit: i64) -> Result<Vec<LicenseRow>, sqlx::Error> {
    crate::db::query_as::<LicenseRow>(&format!(
        "SELECT {LICENSE_COLUMNS} FROM skill_licenses WHERE status = 'active' AND expires_at IS NOT NULL \
         AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(&db.read)
    .await
}

/// Whether the agent holds, or held, a paid-up licence of the skill.
pub async fn ever_licensed(db: &Db, skill_id: &str, buyer_id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = crate::db::query_scalar(
        "SELECT COUNT(*) FROM skill_licenses WHERE skill_id = $1 AND buyer_id = $2 AND status <> 'pending_payment'",
    )
    .bind(skill_id)
    .bind(buyer_id)
    .fetch_one(&db.read)
    .await?;
    Ok(n > 0)
}
