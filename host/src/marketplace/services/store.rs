use std::collections::HashMap;

use super::model::{ServiceAgent, ServiceRow, SERVICE_COLUMNS};
use crate::db::page::Page;
use crate::db::sql::{insert_labels, like_pattern, Arg, SqlBuf};
use crate::db::{Conn, Db};

/// What a listing is filtered and ordered by.
#[derive(Debug, Default)]
pub struct Filter {
    pub q: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// Hundredths of a rating point.
    pub min_rating_x100: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    pub sort: Sort,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    PriceLow,
    PriceHigh,
    Rating,
}

pub async fn insert(c: &mut Conn, s: &ServiceRow) -> Result<(), sqlx::Error> {
    crate::db::query(&format!(
        "INSERT INTO services ({SERVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&s.id)
    .bind(&s.agent_id)
    .bind(&s.title)
    .bind(&s.description)
    .bind(&s.category)
    .bind(s.price_cents)
    .bind(&s.tags)
    .bind(&s.tiers)
    .bind(&s.service_type)
    .bind(&s.fulfilment)
    .bind(s.run_interval_hours)
    .bind(s.active)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(&mut *c)
    .await?;
    replace_tags(c, &s.id, &s.tag_list()).await
}

/// Writes every editable column of `s` (the caller merged the patch into it).
pub async fn update(c: &mut Conn, s: &ServiceRow) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE services SET title = $1, description = $2, category = $3, price_cents = $4, tags = $5, tiers = $6, \
         fulfilment = $7, run_interval_hours = $8, active = $9, updated_at = $10 WHERE id = $11",
    )
    .bind(&s.title)
    .bind(&s.description)
    .bind(&s.category)
    .bind(s.price_cents)
    .bind(&s.tags)
    .bind(&s.tiers)
    .bind(&s.fulfilment)
    .bind(s.run_interval_hours)
    .bind(s.active)
    .bind(s.updated_at)
    .bind(&s.id)
    .execute(&mut *c)
    .await?;
    replace_tags(c, &s.id, &s.tag_list()).await
}

async fn replace_tags(c: &mut Conn, id: &str, tags: &[String]) -> Result<(), sqlx::Error> {
    crate::db::query("DELETE FROM service_tags WHERE service_id = $1").bind(id).execute(&mut *c).await?;
    insert_labels(c, "service_tags", "service_id, tag", id, tags).await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ServiceRow>, sqlx::Error> {
    crate::db::query_as::<ServiceRow>(&format!("SELECT {SERVICE_COLUMNS} FROM services WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

/// One page of active services of active agents matching `f`, with one row more than the
/// page's limit; and the total.
pub async fn list(db: &Db, f: &Filter, page: &Page) -> Result<(Vec<ServiceRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec![
        "s.active = 1".to_string(),
        format!("a.status = {}", q.arg(Arg::Text(crate::agents::model::AgentStatus::Active.as_str().into()))),
    ];
    if let Some(text) = &f.q {
        let p = q.arg(Arg::Text(like_pattern(text)));
        filters.push(format!("(LOWER(s.title) LIKE {p} ESCAPE '\\' OR LOWER(s.description) LIKE {p} ESCAPE '\\')"));
    }
    if let Some(category) = &f.category {
        filters.push(format!("LOWER(s.category) = {}", q.arg(Arg::Text(category.to_lowercase()))));
    }
    if !f.tags.is_empty() {
        let tags: Vec<String> = f.tags.iter().map(|t| q.arg(Arg::Text(t.clone()))).collect();
        filters.push(format!(
            "EXISTS (SELECT 1 FROM service_tags t WHERE t.service_id = s.id AND t.tag IN ({}))",
            tags.join(", ")
        ));
    }
    if let Some(min) = f.min_rating_x100 {
        let p = q.arg(Arg::Int(min));
        filters.push(format!("a.rating_count > 0 AND a.rating_sum * 100 >= {p} * a.rating_count"));
    }
    if let Some(max) = f.max_price_cents {
        filters.push(format!("s.price_cents <= {}", q.arg(Arg::Int(max))));
    }
    if let Some(name) = &f.agent_name {
        filters.push(format!("LOWER(a.name) LIKE {} ESCAPE '\\'", q.arg(Arg::Text(like_pattern(name)))));
    }
    if let Some(agent) = &f.agent_id {
        filters.push(format!("s.agent_id = {}", q.arg(Arg::Text(agent.clone()))));
    }
    let where_sql = filters.join(" AND ");
    let from = "FROM services s JOIN agents a ON a.id = s.agent_id";

    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n {from} WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");

    let after = page.after_sql(&mut q, "s");
    let order = match f.sort {
        Sort::Newest => "s.created_at DESC, s.id DESC",
        Sort::PriceLow => "s.price_cents ASC, s.created_at DESC, s.id DESC",
        Sort::PriceHigh => "s.price_cents DESC, s.created_at DESC, s.id DESC",
        // Unrated agents last; among rated ones the higher average first.
        Sort::Rating => {
            "CASE WHEN a.rating_count = 0 THEN 1 ELSE 0 END, \
             CAST(a.rating_sum AS REAL) / CASE WHEN a.rating_count = 0 THEN 1 ELSE a.rating_count END DESC, \
             s.created_at DESC, s.id DESC"
        }
    };
    let (pl, po) = (q.arg(Arg::Int(page.limit + 1)), q.arg(Arg::Int(page.offset)));
    let columns = crate::db::sql::qualified(SERVICE_COLUMNS, "s");
    q.sql = format!("SELECT {columns} {from} WHERE {where_sql}{after} ORDER BY {order} LIMIT {pl} OFFSET {po}");
    let rows = q
        .query()
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(<ServiceRow as crate::db::FromRow>::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// The agents offering these services, by id.
pub async fn agents_of(db: &Db, agent_ids: &[&str]) -> Result<HashMap<String, ServiceAgent>, sqlx::Error> {
    let mut map = HashMap::new();
    if agent_ids.is_empty() {
        return Ok(map);
    }
    let mut q = SqlBuf::new(
        "SELECT id, name, slug, rating_sum, rating_count, jobs_completed, available_for_hire FROM agents WHERE id IN (",
    );
    let ids: Vec<String> = agent_ids.iter().map(|id| q.arg(Arg::Text(id.to_string()))).collect();
    q.push(&ids.join(", ")).push(")");
    for row in q.query().fetch_all(&db.read).await? {
        let (sum, count): (i64, i64) = (row.get("rating_sum"), row.get("rating_count"));
        let agent = ServiceAgent {
            id: row.get("id"),
            name: row.get("name"),
            slug: row.get("slug"),
            rating: crate::agents::model::average_rating(sum, count),
            jobs_completed: row.get("jobs_completed"),
            available_for_hire: row.get::<i64, _>("available_for_hire") == 1,
        };
        map.insert(agent.id.clone(), agent);
    }
    Ok(map)
}
