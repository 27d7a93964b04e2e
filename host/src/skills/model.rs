use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::components::model::Capabilities;
use crate::db::rfc3339;
use crate::validate::{fail, Invalid};

/// Toku's numbered pages: `page` from 1, `limit` 1 to 100 (default 20).
#[derive(Debug, Clone, Copy)]
pub struct PageNumber {
    pub page: i64,
    pub limit: i64,
}

impl PageNumber {
    pub fn parse(page: Option<i64>, limit: Option<i64>) -> Result<PageNumber, Invalid> {
        let (page, limit) = (page.unwrap_or(1), limit.unwrap_or(20));
        if page < 1 {
            return Err(fail("page", "must be at least 1"));
        }
        if !(1..=100).contains(&limit) {
            return Err(fail("limit", "must be 1 to 100"));
        }
        Ok(PageNumber { page, limit })
    }

    /// Rows skipped before this page.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.limit)
    }
}

crate::stored_enum! {
    /// How a skill is paid for: `FREE`; `ONE_TIME`; `SUBSCRIPTION`, monthly from the wallet;
    /// `PER_CALL`, each `skills.call` pays the price (the licence itself costs nothing).
    pub enum PricingModel { Free => "FREE", OneTime => "ONE_TIME", Subscription => "SUBSCRIPTION", PerCall => "PER_CALL" }
}

crate::stored_enum! {
    /// A licence's standing. `pending_payment`: bought through a checkout not paid yet.
    pub enum LicenseStatus {
        PendingPayment => "pending_payment",
        Active => "active",
        Expired => "expired",
        Revoked => "revoked",
    }
}

impl PricingModel {
    /// What a purchase charges up front.
    pub fn upfront_cents(self, price_cents: i64) -> i64 {
        match self {
            PricingModel::OneTime | PricingModel::Subscription => price_cents,
            PricingModel::Free | PricingModel::PerCall => 0,
        }
    }
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct SkillRow {
        pub id: String,
        pub author_id: String,
        pub title: String,
        pub description: String,
        pub category: String,
        pub tags: String,
        pub compatibility: String,
        pub version: String,
        pub pricing_model: String,
        pub price_cents: i64,
        pub component_id: Option<String>,
        pub download_url: Option<String>,
        pub describe_json: Option<String>,
        pub listed: i64,
        pub rating_sum: i64,
        pub rating_count: i64,
        pub install_count: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

pub const SKILL_COLUMNS: &str = "id, author_id, title, description, category, tags, compatibility, version, \
    pricing_model, price_cents, component_id, download_url, describe_json, listed, rating_sum, rating_count, \
    install_count, created_at, updated_at";

impl SkillRow {
    pub fn model(&self) -> PricingModel {
        self.pricing_model.parse().unwrap_or(PricingModel::OneTime)
    }

    fn list(json: &str) -> Vec<String> {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn view(&self, author_name: &str) -> SkillView {
        SkillView {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            tags: Self::list(&self.tags),
            compatibility: Self::list(&self.compatibility),
            version: self.version.clone(),
            pricing_model: self.pricing_model.clone(),
            price_cents: self.price_cents,
            rating: crate::agents::model::average_rating(self.rating_sum, self.rating_count),
            rating_count: self.rating_count,
            install_count: self.install_count,
            component_id: self.component_id.clone(),
            download_url: self.download_url.clone(),
            listed: self.listed == 1,
            author: SkillAuthor { id: self.author_id.clone(), name: author_name.to_string() },
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkillAuthor {
    pub id: String,
    pub name: String,
}

/// A skill listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub compatibility: Vec<String>,
    pub version: String,
    /// `FREE`, `ONE_TIME`, `SUBSCRIPTION` (monthly) or `PER_CALL`.
    pub pricing_model: String,
    pub price_cents: i64,
    /// Average review, 1 to 5; none before the first review.
    pub rating: Option<f64>,
    pub rating_count: i64,
    /// Licences ever issued.
    pub install_count: i64,
    /// The `skill` component that runs on Agora, if it does.
    pub component_id: Option<String>,
    /// Where an external skill is downloaded; it checks its licence with `/api/skills/verify`.
    pub download_url: Option<String>,
    /// False once its author delisted it; licences stay valid.
    pub listed: bool,
    pub author: SkillAuthor,
    pub created_at: String,
    pub updated_at: String,
}

/// What a skill's component is and may do, for a buyer to see before buying.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillComponent {
    pub id: String,
    pub name: String,
    pub version: String,
    /// `sha256:<hex>` of the bytes that run.
    pub digest: String,
    /// `verified`: signed with a key its publisher registered, checked at publish;
    /// `unsigned` otherwise.
    pub signature_status: String,
    /// What the host grants it when it runs (never the caller's grants).
    pub capabilities: Capabilities,
    pub imports: Vec<String>,
}

/// The skill's own `describe()`, taken when it was listed or its component changed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillDescription {
    pub name: String,
    pub version: String,
    pub description: String,
    pub input_schema: String,
    pub output_schema: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillDetail {
    #[serde(flatten)]
    pub skill: SkillView,
    pub component: Option<SkillComponent>,
    pub describe: Option<SkillDescription>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSkillRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Frameworks it works with, e.g. `["agora", "langchain"]`.
    #[serde(default)]
    pub compatibility: Vec<String>,
    /// Semantic version, e.g. `1.2.0`.
    pub version: String,
    pub pricing_model: String,
    /// 0 for `FREE`; at least 1 otherwise (`SUBSCRIPTION`: per month; `PER_CALL`: per call).
    #[serde(default)]
    pub price_cents: i64,
    /// A `skill` component of yours: the skill runs on Agora.
    pub component_id: Option<String>,
    /// Or where an external skill is downloaded.
    pub download_url: Option<String>,
}

/// Absent fields stay. A new version usually points at a new component; licences stay valid.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub compatibility: Option<Vec<String>>,
    pub version: Option<String>,
    /// New purchases only; licences keep the model and price they were bought at.
    pub pricing_model: Option<String>,
    pub price_cents: Option<i64>,
    pub component_id: Option<String>,
    pub download_url: Option<String>,
    /// List again a delisted skill.
    pub listed: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SkillQuery {
    pub category: Option<String>,
    /// One framework the skill must list in `compatibility`.
    pub compatibility: Option<String>,
    pub pricing_model: Option<String>,
    /// Text in the title or description.
    pub q: Option<String>,
    /// Lowest average rating, 1 to 5.
    pub min_rating: Option<f64>,
    /// `newest` (default), `popular` (installs), `rating`, `price_low`, `price_high`.
    pub sort: Option<String>,
    /// 1-based.
    pub page: Option<i64>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// Only this author's skills (delisted ones included when it is you).
    pub author_id: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct LicenseRow {
        pub id: String,
        pub skill_id: String,
        pub buyer_id: String,
        pub key_hash: String,
        pub key_prefix: String,
        pub pricing_model: String,
        pub price_cents: i64,
        pub status: String,
        pub auto_renew: i64,
        pub expires_at: Option<i64>,
        pub checkout_id: Option<String>,
        pub paid_cents: i64,
        pub status_reason: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

pub const LICENSE_COLUMNS: &str = "id, skill_id, buyer_id, key_hash, key_prefix, pricing_model, price_cents, status, \
    auto_renew, expires_at, checkout_id, paid_cents, status_reason, created_at, updated_at";

impl LicenseRow {
    pub fn state(&self) -> LicenseStatus {
        self.status.parse().unwrap_or(LicenseStatus::Revoked)
    }

    pub fn model(&self) -> PricingModel {
        self.pricing_model.parse().unwrap_or(PricingModel::OneTime)
    }

    /// Its standing at `now`: an active licence past its expiry is expired, whether or not the
    /// renewal sweep has marked it yet.
    pub fn standing(&self, now: i64) -> LicenseStatus {
        match (self.state(), self.expires_at) {
            (LicenseStatus::Active, Some(at)) if at <= now => LicenseStatus::Expired,
            (status, _) => status,
        }
    }

    pub fn view(&self, skill_title: &str, token: Option<String>) -> LicenseView {
        LicenseView {
            id: self.id.clone(),
            skill_id: self.skill_id.clone(),
            skill_title: skill_title.to_string(),
            buyer_id: self.buyer_id.clone(),
            key_prefix: self.key_prefix.clone(),
            pricing_model: self.pricing_model.clone(),
            price_cents: self.price_cents,
            status: self.standing(crate::db::now_ms()).as_str().to_string(),
            status_reason: self.status_reason.clone(),
            auto_renew: self.auto_renew == 1,
            expires_at: self.expires_at.map(rfc3339),
            license_token: token,
            created_at: rfc3339(self.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseView {
    pub id: String,
    pub skill_id: String,
    pub skill_title: String,
    pub buyer_id: String,
    /// The key's first characters, to tell keys apart; the key itself is shown once.
    pub key_prefix: String,
    pub pricing_model: String,
    pub price_cents: i64,
    /// `pending_payment`, `active`, `expired` or `revoked`.
    pub status: String,
    pub status_reason: Option<String>,
    /// A subscription renews from the wallet at `expiresAt` while this holds.
    pub auto_renew: bool,
    pub expires_at: Option<String>,
    /// A signed token that proves the licence offline (`GET /api/skills/license-keys`);
    /// active licences only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_token: Option<String>,
    pub created_at: String,
}

/// A purchase's answer: the licence, with its key (shown this once).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseView {
    pub id: String,
    /// `sk_...`: send it as `X-License-Key` to `/api/skills/verify`. Shown once.
    pub license_key: String,
    pub status: String,
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SkillReviewRequest {
    /// 1 to 5.
    pub rating: i64,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillReview {
    pub skill_id: String,
    pub reviewer_id: String,
    pub rating: i64,
    pub comment: String,
    pub created_at: String,
}
