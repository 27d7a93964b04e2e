use super::model::{BidRow, BidStatus, PostRow, PostStatus, BID_SELECT, POST_SELECT};
use crate::db::sql::{insert_labels, like_pattern, update_if, Arg, Changes, SqlBuf};
use crate::db::{now_ms, Conn, Db};

pub struct NewPost<'a> {
    pub id: &'a str,
    pub poster_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub budget_cents: i64,
    pub deadline: Option<i64>,
    pub instant_accept_cents: Option<i64>,
    pub multi_bid: bool,
    pub max_accepted_bids: i64,
}

pub async fn insert_post(c: &mut Conn, p: &NewPost<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO job_posts (id, poster_id, title, description, category, tags, budget_cents, deadline, \
         instant_accept_cents, multi_bid, max_accepted_bids, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(p.id)
    .bind(p.poster_id)
    .bind(p.title)
    .bind(p.description)
    .bind(p.category)
    .bind(serde_json::to_string(p.tags).unwrap_or_else(|_| "[]".into()))
    .bind(p.budget_cents)
    .bind(p.deadline)
    .bind(p.instant_accept_cents)
    .bind(i64::from(p.multi_bid))
    .bind(p.max_accepted_bids)
    .bind(PostStatus::Open.as_str())
    .bind(now_ms())
    .execute(&mut *c)
    .await?;
    insert_labels(c, "job_post_tags", "post_id, tag", p.id, p.tags).await
}

pub async fn get_post(db: &Db, id: &str) -> Result<Option<PostRow>, sqlx::Error> {
    crate::db::query_as::<PostRow>(&format!("{POST_SELECT} WHERE p.id = $1")).bind(id).fetch_optional(&db.read).await
}

pub async fn get_post_in(c: &mut Conn, id: &str) -> Result<Option<PostRow>, sqlx::Error> {
    crate::db::query_as::<PostRow>(&format!("{POST_SELECT} WHERE p.id = $1")).bind(id).fetch_optional(c).await
}

pub struct PostFilter<'a> {
    pub q: Option<&'a str>,
    pub category: Option<&'a str>,
    pub tags: &'a [String],
    pub status: PostStatus,
}

/// A page of posts, newest first, and the total matching.
pub async fn list_posts(
    db: &Db,
    f: &PostFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PostRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec![format!("p.status = {}", q.arg(Arg::Text(f.status.as_str().into())))];
    if let Some(text) = f.q {
        let like = q.arg(Arg::Text(like_pattern(text)));
        filters.push(format!(
            "(LOWER(p.title) LIKE {like} ESCAPE '\\' OR LOWER(p.description) LIKE {like} ESCAPE '\\' \
             OR LOWER(p.tags) LIKE {like} ESCAPE '\\')"
        ));
    }
    if let Some(category) = f.category {
        filters.push(format!("p.category = {}", q.arg(Arg::Text(category.into()))));
    }
    if !f.tags.is_empty() {
        let tags: Vec<String> = f.tags.iter().map(|t| q.arg(Arg::Text(t.clone()))).collect();
        filters.push(format!(
            "EXISTS (SELECT 1 FROM job_post_tags t WHERE t.post_id = p.id AND t.tag IN ({}))",
            tags.join(", ")
        ));
    }
    let where_sql = filters.join(" AND ");
    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n FROM job_posts p WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");
    let (pl, po) = (q.arg(Arg::Int(limit)), q.arg(Arg::Int(offset)));
    q.sql = format!("{POST_SELECT} WHERE {where_sql} ORDER BY p.created_at DESC, p.id DESC LIMIT {pl} OFFSET {po}");
    let rows = q.query().fetch_all(&db.read).await?;
    let rows = rows.iter().map(<PostRow as crate::db::FromRow>::from_row).collect::<Result<_, _>>()?;
    Ok((rows, total))
}

/// Touches the post if it is open for bids now: the first statement of every bid on it, so
/// that on PostgreSQL the bids on one post take their turns (its row lock) and each sees the
/// post as the one before left it. False when bidding is closed.
pub async fn lock_open_post(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    Ok(crate::db::query(
        "UPDATE job_posts SET updated_at = $1 WHERE id = $2 AND status = $3 AND (deadline IS NULL OR deadline > $1)",
    )
    .bind(now)
    .bind(id)
    .bind(PostStatus::Open.as_str())
    .execute(c)
    .await?
    .rows_affected()
        == 1)
}

/// Takes one of the post's accepted-bid places if it is open and has one left; the places
/// taken after, and how many there are.
pub async fn take_place(c: &mut Conn, id: &str) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let now = now_ms();
    let row = crate::db::query(
        "UPDATE job_posts SET accepted_count = accepted_count + 1, updated_at = $1 WHERE id = $2 AND status = $3 \
         AND (deadline IS NULL OR deadline > $1) AND accepted_count < max_accepted_bids \
         RETURNING accepted_count, max_accepted_bids",
    )
    .bind(now)
    .bind(id)
    .bind(PostStatus::Open.as_str())
    .fetch_optional(c)
    .await?;
    Ok(row.map(|r| (r.get("accepted_count"), r.get("max_accepted_bids"))))
}

/// Closes an open post as `to`; false if it was not open.
pub async fn close_post(c: &mut Conn, id: &str, to: PostStatus) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    Ok(crate::db::query(
        "UPDATE job_posts SET status = $1, closed_at = $2, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(id)
    .bind(PostStatus::Open.as_str())
    .execute(c)
    .await?
    .rows_affected()
        == 1)
}

/// Open posts whose deadline has passed.
pub async fn past_deadline(db: &Db, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = crate::db::query("SELECT id FROM job_posts WHERE status = $1 AND deadline <= $2 LIMIT $3")
        .bind(PostStatus::Open.as_str())
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&db.read)
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

pub async fn insert_bid(
    c: &mut Conn,
    id: &str,
    post_id: &str,
    bidder_id: &str,
    price_cents: i64,
    message: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO bids (id, post_id, bidder_id, price_cents, message, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id)
    .bind(post_id)
    .bind(bidder_id)
    .bind(price_cents)
    .bind(message)
    .bind(BidStatus::Pending.as_str())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get_bid(db: &Db, id: &str) -> Result<Option<BidRow>, sqlx::Error> {
    crate::db::query_as::<BidRow>(&format!("{BID_SELECT} WHERE b.id = $1")).bind(id).fetch_optional(&db.read).await
}

pub async fn get_bid_in(c: &mut Conn, id: &str) -> Result<Option<BidRow>, sqlx::Error> {
    crate::db::query_as::<BidRow>(&format!("{BID_SELECT} WHERE b.id = $1")).bind(id).fetch_optional(c).await
}

/// The post's bids, lowest price first (earlier first among equals).
pub async fn bids_of(db: &Db, post_id: &str) -> Result<Vec<BidRow>, sqlx::Error> {
    crate::db::query_as::<BidRow>(&format!(
        "{BID_SELECT} WHERE b.post_id = $1 ORDER BY b.price_cents, b.created_at, b.id"
    ))
    .bind(post_id)
    .fetch_all(&db.read)
    .await
}

/// The post's bids in `statuses`, lowest first, in the caller's transaction.
pub async fn bids_in(c: &mut Conn, post_id: &str, statuses: &[BidStatus]) -> Result<Vec<BidRow>, sqlx::Error> {
    let mut q = SqlBuf::new("");
    let post = q.arg(Arg::Text(post_id.into()));
    let list: Vec<String> = statuses.iter().map(|s| q.arg(Arg::Text(s.as_str().into()))).collect();
    q.sql = format!(
        "{BID_SELECT} WHERE b.post_id = {post} AND b.status IN ({}) ORDER BY b.price_cents, b.created_at, b.id",
        list.join(", ")
    );
    let rows = q.query().fetch_all(c).await?;
    rows.iter().map(<BidRow as crate::db::FromRow>::from_row).collect()
}

/// The bidder's live bid on the post, if any, in the caller's transaction.
pub async fn live_bid_in(c: &mut Conn, post_id: &str, bidder_id: &str) -> Result<Option<String>, sqlx::Error> {
    let row = crate::db::query(
        "SELECT id FROM bids WHERE post_id = $1 AND bidder_id = $2 AND status IN ('PENDING', 'ACCEPTED', 'DELIVERED', 'DISPUTED')",
    )
    .bind(post_id)
    .bind(bidder_id)
    .fetch_optional(c)
    .await?;
    Ok(row.map(|r| r.get("id")))
}

/// Moves the bid to `to` if it is in one of `from`, with `changes`; false when it was not.
pub async fn move_bid(
    c: &mut Conn,
    id: &str,
    from: &[BidStatus],
    to: BidStatus,
    changes: &Changes,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    update_if(c, "bids", id, &from, Some(to.as_str()), None, changes).await
}

/// Disputed bids, oldest dispute first, `limit` after `offset`; and how many there are.
pub async fn disputed(db: &Db, limit: i64, offset: i64) -> Result<(Vec<BidRow>, i64), sqlx::Error> {
    let status = BidStatus::Disputed.as_str();
    let total: i64 = crate::db::query("SELECT COUNT(*) AS n FROM bids WHERE status = $1")
        .bind(status)
        .fetch_one(&db.read)
        .await?
        .get("n");
    let rows = crate::db::query_as::<BidRow>(&format!(
        "{BID_SELECT} WHERE b.status = $1 ORDER BY b.updated_at, b.id LIMIT $2 OFFSET $3"
    ))
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.read)
    .await?;
    Ok((rows, total))
}

/// Where `bid` stands among the post's live bids: how many are ahead of it (a lower price, or
/// the same price placed earlier), how many there are, and the lowest price.
pub async fn standing_in(c: &mut Conn, bid: &BidRow) -> Result<(i64, i64, i64), sqlx::Error> {
    let row = crate::db::query(
        "SELECT COUNT(*) AS total, COALESCE(MIN(price_cents), 0) AS lowest, \
         CAST(COALESCE(SUM(CASE WHEN price_cents < $2 OR (price_cents = $2 AND (created_at < $3 \
         OR (created_at = $3 AND id < $4))) THEN 1 ELSE 0 END), 0) AS BIGINT) AS ahead \
         FROM bids WHERE post_id = $1 AND status IN ('PENDING', 'ACCEPTED', 'DELIVERED', 'DISPUTED')",
    )
    .bind(&bid.post_id)
    .bind(bid.price_cents)
    .bind(bid.created_at)
    .bind(&bid.id)
    .fetch_one(c)
    .await?;
    Ok((row.get("ahead"), row.get("total"), row.get("lowest")))
}

/// Among the other bidders' pending bids on the post: the lowest price, and how many are
/// priced above `above` and at most `at_most`.
pub async fn rivals_in(
    c: &mut Conn,
    post_id: &str,
    bidder_id: &str,
    above: i64,
    at_most: i64,
) -> Result<(Option<i64>, i64), sqlx::Error> {
    let row = crate::db::query(
        "SELECT MIN(price_cents) AS low, CAST(COALESCE(SUM(CASE WHEN price_cents > $3 AND price_cents <= $4 \
         THEN 1 ELSE 0 END), 0) AS BIGINT) AS undercut FROM bids WHERE post_id = $1 AND status = 'PENDING' \
         AND bidder_id <> $2",
    )
    .bind(post_id)
    .bind(bidder_id)
    .bind(above)
    .bind(at_most)
    .fetch_one(c)
    .await?;
    Ok((row.get("low"), row.get("undercut")))
}

/// The other bidders' pending bids on the post at exactly `price`.
pub async fn pending_at_in(
    c: &mut Conn,
    post_id: &str,
    bidder_id: &str,
    price: i64,
) -> Result<Vec<BidRow>, sqlx::Error> {
    let rows = crate::db::query_as::<BidRow>(&format!(
        "{BID_SELECT} WHERE b.post_id = $1 AND b.status = 'PENDING' AND b.bidder_id <> $2 AND b.price_cents = $3"
    ))
    .bind(post_id)
    .bind(bidder_id)
    .bind(price)
    .fetch_all(c)
    .await?;
    Ok(rows)
}
