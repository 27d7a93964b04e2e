//! Pagination: `limit` with `offset` or an opaque keyset cursor over `(created_at, id)`, and
//! the `meta` object every list answers with.

use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;

/// A query parameter that cannot be used; answered `400 invalid_query`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadQuery(pub String);

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub total: i64,
    pub count: usize,
    pub limit: i64,
    pub offset: i64,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// A page request: `limit` rows after skipping `offset`, or after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
    pub after: Option<(i64, String)>,
}

impl Page {
    /// `limit` defaults to 20 and is clamped to 100; a limit below 1, a negative offset or a
    /// cursor this server did not issue is refused.
    pub fn parse(limit: Option<i64>, offset: Option<i64>, cursor: Option<&str>) -> Result<Page, BadQuery> {
        let (limit, offset) = (limit.unwrap_or(20), offset.unwrap_or(0));
        if limit < 1 {
            return Err(BadQuery("limit must be at least 1".into()));
        }
        if offset < 0 {
            return Err(BadQuery("offset must not be negative".into()));
        }
        let after = cursor.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
        Ok(Page { limit: limit.min(100), offset, after })
    }

    /// The meta of a page fetched with one row more than `limit` (`fetched`), cut to size.
    pub fn cut<T>(&self, mut rows: Vec<T>, total: i64, key: impl Fn(&T) -> (i64, String)) -> (Vec<T>, PageMeta) {
        let has_more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = rows.last().filter(|_| has_more).map(|r| {
            let (created_at, id) = key(r);
            encode_cursor(created_at, &id)
        });
        let meta = PageMeta { total, count: rows.len(), limit: self.limit, offset: self.offset, has_more, next_cursor };
        (rows, meta)
    }
}

impl Page {
    /// The condition (` AND ...`, or nothing without a cursor) that starts the page after its
    /// cursor, over `{alias}.created_at` and `{alias}.id` ordered newest first; its arguments
    /// are added to `q`.
    pub fn after_sql(&self, q: &mut super::sql::SqlBuf, alias: &str) -> String {
        let Some((ts, id)) = &self.after else { return String::new() };
        let (pt, pi) = (q.arg(super::sql::Arg::Int(*ts)), q.arg(super::sql::Arg::Text(id.clone())));
        format!(" AND ({alias}.created_at < {pt} OR ({alias}.created_at = {pt} AND {alias}.id < {pi}))")
    }
}

/// Cursor for keyset pagination over (created_at, id), newest first.
pub fn encode_cursor(created_at: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<(i64, String), BadQuery> {
    let bad = || BadQuery("cursor is not one this server issued".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_cursors() {
        assert_eq!(Page::parse(None, None, None).unwrap(), Page { limit: 20, offset: 0, after: None });
        assert_eq!(Page::parse(Some(500), Some(3), None).unwrap().limit, 100);
        assert!(Page::parse(Some(0), None, None).is_err());
        assert!(Page::parse(None, Some(-1), None).is_err());
        assert!(Page::parse(None, None, Some("not-ours")).is_err());
        let cursor = encode_cursor(42, "abc");
        assert_eq!(Page::parse(None, None, Some(&cursor)).unwrap().after, Some((42, "abc".into())));
    }

    #[test]
    fn cut_reports_more_and_the_next_cursor() {
        let page = Page::parse(Some(2), None, None).unwrap();
        let (rows, meta) = page.cut(vec![(3, "c"), (2, "b"), (1, "a")], 3, |r| (r.0, r.1.to_string()));
        assert_eq!(rows.len(), 2);
        assert!(meta.has_more);
        assert_eq!(meta.next_cursor, Some(encode_cursor(2, "b")));
        let (_, last) = page.cut(vec![(1, "a")], 3, |r| (r.0, r.1.to_string()));
        assert!(!last.has_more && last.next_cursor.is_none());
    }
}
