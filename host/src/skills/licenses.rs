//! A buyer's licences: listing them, rotating a key, stopping a subscription's renewal; and
//! revoking one, by the skill's author or an operator. Every change drops the key from this
//! host's verify cache at once (other hosts within `auth_cache_ms`).

use serde_json::json;

use super::model::{LicenseRow, LicenseStatus, LicenseView, PageNumber, SkillRow};
use super::store;
use super::tokens::Claims;
use super::SkillError;
use crate::db::sql::Changes;
use crate::db::{now_ms, Conn};
use crate::identity::Principal;
use crate::notifications::{self, model::NoticeKind, Notice};
use crate::state::App;
use crate::transaction;
use crate::validate;

/// A signed token proving the licence offline (an active one only).
pub fn token(app: &App, l: &LicenseRow) -> String {
    let claims = Claims {
        kid: app.licensing.signer.kid().to_string(),
        lic: l.id.clone(),
        skill: l.skill_id.clone(),
        buyer: l.buyer_id.clone(),
        model: l.pricing_model.clone(),
        iat: now_ms() / 1000,
        exp: l.expires_at.map(|ms| ms / 1000),
    };
    app.licensing.signer.sign(&claims)
}

/// The view of a licence, with a fresh token when it is active.
pub fn view(app: &App, l: &LicenseRow, skill_title: &str) -> LicenseView {
    let active = l.standing(now_ms()) == LicenseStatus::Active;
    l.view(skill_title, active.then(|| token(app, l)))
}

pub struct LicenseList {
    pub licenses: Vec<LicenseView>,
    pub page: PageNumber,
    pub total: i64,
}

pub async fn list(app: &App, buyer_id: &str, page: Option<i64>, limit: Option<i64>) -> Result<LicenseList, SkillError> {
    let page = PageNumber::parse(page, limit)?;
    let (rows, total) = store::licenses_of(&app.db, buyer_id, page.limit, page.offset()).await?;
    let licenses = rows.iter().map(|(l, title)| view(app, l, title)).collect();
    Ok(LicenseList { licenses, page, total })
}

/// The licence and its skill, if `who` is its buyer (`as_buyer`) or its skill's author or an
/// operator (otherwise); anyone else is told it does not exist.
async fn visible(app: &App, who: &Principal, id: &str, as_buyer: bool) -> Result<(LicenseRow, SkillRow), SkillError> {
    let license = store::license(&app.db, id).await?.ok_or(SkillError::LicenseNotFound)?;
    let skill = store::get(&app.db, &license.skill_id).await?.ok_or(SkillError::LicenseNotFound)?;
    let allowed = match who {
        Principal::Agent { agent_id } if as_buyer => *agent_id == license.buyer_id,
        Principal::Agent { agent_id } => *agent_id == skill.author_id,
        Principal::Operator { .. } => !as_buyer,
        Principal::Runtime(_) => false,
    };
    match allowed {
        true => Ok((license, skill)),
        false => Err(SkillError::LicenseNotFound),
    }
}

fn transition_error(action: &'static str, l: &LicenseRow) -> SkillError {
    SkillError::Transition { action, status: l.standing(now_ms()).as_str().into() }
}

/// The author (or an operator) revokes a licence: its key and tokens stop verifying online.
pub async fn revoke(app: &App, who: &Principal, id: &str, reason: &str) -> Result<LicenseView, SkillError> {
    let reason = validate::optional_text("reason", reason, 1_000)?;
    let (license, skill) = visible(app, who, id, false).await?;
    let why = Changes::default()
        .text("status_reason", if reason.is_empty() { "revoked" } else { &reason })
        .int("auto_renew", 0);
    let from = [LicenseStatus::PendingPayment, LicenseStatus::Active, LicenseStatus::Expired];
    let body = format!("Revoked: {}", if reason.is_empty() { "by the skill's author or an operator" } else { &reason });
    let revoked = transaction!(app.db, |c| async {
        let done = store::transition(c, id, &from, LicenseStatus::Revoked, &why).await?;
        if done {
            tell_buyer_in(c, &license, &skill.title, "revoked", body.clone()).await?;
        }
        Ok::<_, SkillError>(done)
    })?;
    if !revoked {
        return Err(transition_error("revoke", &license));
    }
    app.licensing.verified.remove(&license.key_hash);
    let after = store::license(&app.db, id).await?.ok_or(SkillError::LicenseNotFound)?;
    Ok(view(app, &after, &skill.title))
}

/// The buyer gets a new key for an active or pending licence; the old one stops verifying.
pub async fn rotate(app: &App, buyer_id: &str, id: &str) -> Result<(LicenseView, String), SkillError> {
    let who = Principal::Agent { agent_id: buyer_id.to_string() };
    let (license, skill) = visible(app, &who, id, true).await?;
    let (hash, prefix, key) = super::purchase::new_key();
    let changes = Changes::default().text("key_hash", &hash).text("key_prefix", &prefix);
    let from = [LicenseStatus::PendingPayment, LicenseStatus::Active];
    let rotated = license.standing(now_ms()) != LicenseStatus::Expired
        && transaction!(app.db, |c| store::transition(c, id, &from, license.state(), &changes))?;
    if !rotated {
        return Err(transition_error("rotate", &license));
    }
    app.licensing.verified.remove(&license.key_hash);
    let after = store::license(&app.db, id).await?.ok_or(SkillError::LicenseNotFound)?;
    Ok((view(app, &after, &skill.title), key))
}

/// The buyer stops a subscription's renewal; it stays valid until `expiresAt`.
pub async fn cancel_renewal(app: &App, buyer_id: &str, id: &str) -> Result<LicenseView, SkillError> {
    let who = Principal::Agent { agent_id: buyer_id.to_string() };
    let (license, skill) = visible(app, &who, id, true).await?;
    let changes = Changes::default().int("auto_renew", 0);
    let from = [LicenseStatus::Active];
    let stopped = license.auto_renew == 1
        && transaction!(app.db, |c| store::transition(c, id, &from, LicenseStatus::Active, &changes))?;
    if !stopped {
        return Err(transition_error("stop the renewal of", &license));
    }
    let after = store::license(&app.db, id).await?.ok_or(SkillError::LicenseNotFound)?;
    Ok(view(app, &after, &skill.title))
}

/// Tells the buyer what happened to its licence (`notification.license`), in the caller's
/// transaction.
pub async fn tell_buyer_in(
    c: &mut Conn,
    l: &LicenseRow,
    title: &str,
    status: &str,
    body: String,
) -> Result<(), sqlx::Error> {
    let notice = Notice {
        agent_id: &l.buyer_id,
        kind: NoticeKind::License,
        title: format!("Your licence of {title} was {status}"),
        body,
        link: Some(format!("/licenses/{}", l.id)),
        data: json!({ "licenseId": l.id, "skillId": l.skill_id, "status": status }),
    };
    notifications::notify_in(c, &notice).await
}
