use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::db::page::PageMeta;
use crate::db::rfc3339;

pub const AGENT_COLUMNS: &str = "id, name, slug, description, owner_email, avatar_url, webhook_url, \
    endpoint_url, system_prompt, capabilities, tags, price_per_task_cents, status, claimed_at, \
    referral_code, referred_by, rating_sum, rating_count, jobs_completed, available_for_hire, created_at, \
    component_id, endpoint_secret, verified_platforms, model";

crate::stored_enum! {
    /// An agent's standing. Stored lowercase (`active`), shown as Toku spells it (`ACTIVE`).
    pub enum AgentStatus { Active => "active", Suspended => "suspended" }
}

/// The average of `count` ratings summing to `sum`, to one decimal; none before the first.
pub fn average_rating(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| (sum as f64 / count as f64 * 10.0).round() / 10.0)
}

impl AgentStatus {
    /// As the API shows it.
    pub fn api_name(self) -> &'static str {
        match self {
            AgentStatus::Active => "ACTIVE",
            AgentStatus::Suspended => "SUSPENDED",
        }
    }
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct AgentRow {
        pub id: String,
        pub name: String,
        pub slug: String,
        pub description: String,
        pub owner_email: Option<String>,
        pub avatar_url: Option<String>,
        pub webhook_url: Option<String>,
        pub endpoint_url: Option<String>,
        pub system_prompt: Option<String>,
        pub capabilities: String,
        pub tags: String,
        pub price_per_task_cents: i64,
        pub status: String,
        pub claimed_at: Option<i64>,
        pub referral_code: String,
        pub referred_by: Option<String>,
        pub rating_sum: i64,
        pub rating_count: i64,
        pub jobs_completed: i64,
        pub available_for_hire: i64,
        pub created_at: i64,
        pub component_id: Option<String>,
        pub endpoint_secret: Option<String>,
        /// JSON list of the platforms the agent proved its identity on.
        pub verified_platforms: String,
        /// The mode or model a `system_prompt` agent answers with; none is `auto`.
        pub model: Option<String>,
    }
}

crate::row_struct! {
    #[derive(Debug, Clone, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct ServiceSummary {
        pub id: String,
        #[serde(skip)]
        pub agent_id: String,
        pub title: String,
        pub category: String,
        pub price_cents: i64,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStats {
    pub total_services: usize,
    pub total_jobs: i64,
}

/// What anyone may see of an agent. Carries AgentMarket's snake_case names
/// (`price_per_task`, `reputation_score`, `total_tasks`) beside Toku's camelCase ones.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfile {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub status: String,
    pub avatar_url: Option<String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<String>,
    pub price_per_task_cents: i64,
    #[serde(rename = "price_per_task")]
    pub price_per_task: i64,
    /// Average rating 0-5, null before the first review.
    pub rating: Option<f64>,
    #[serde(rename = "reputation_score")]
    pub reputation_score: Option<f64>,
    pub jobs_completed: i64,
    #[serde(rename = "total_tasks")]
    pub total_tasks: i64,
    pub available_for_hire: bool,
    /// The verified badge: the agent proved its identity on one of `verifiedPlatforms`.
    pub verified: bool,
    /// `github`, `bluesky`, `twitter`, `moltbook`: where its handle showed its code.
    pub verified_platforms: Vec<String>,
    /// How the agent does work: `component`, `endpoint`, `system_prompt` or `none`.
    pub runtime: String,
    /// What a `system_prompt` agent answers with: a gateway mode (`auto`, `fast`, `max`) or a
    /// model name.
    pub model: Option<String>,
    /// The Wasm component it runs, with the capabilities the host grants it.
    pub component: Option<ComponentSummary>,
    pub services: Vec<ServiceSummary>,
    pub stats: AgentStats,
    pub created_at: String,
}

/// The owner's view: the public profile plus settings and contact details.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateProfile {
    #[serde(flatten)]
    pub public: PublicProfile,
    pub owner_email: Option<String>,
    pub webhook_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub system_prompt: Option<String>,
    pub referral_code: String,
    pub referred_by: Option<String>,
    pub claimed: bool,
    /// Key of the HMAC-SHA256 signature (`X-Agora-Signature`) on calls to your endpoint_url.
    pub endpoint_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSummary {
    pub id: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub capabilities: crate::components::model::Capabilities,
}

impl AgentRow {
    /// The stored status; an unknown one counts as suspended.
    pub fn standing(&self) -> AgentStatus {
        self.status.parse().unwrap_or(AgentStatus::Suspended)
    }

    pub fn runtime(&self) -> &'static str {
        if self.component_id.is_some() {
            "component"
        } else if self.endpoint_url.is_some() {
            "endpoint"
        } else if self.system_prompt.is_some() {
            "system_prompt"
        } else {
            "none"
        }
    }

    pub fn rating(&self) -> Option<f64> {
        average_rating(self.rating_sum, self.rating_count)
    }

    pub fn capability_list(&self) -> Vec<String> {
        serde_json::from_str(&self.capabilities).unwrap_or_default()
    }

    pub fn public(&self, services: Vec<ServiceSummary>, component: Option<ComponentSummary>) -> PublicProfile {
        let rating = self.rating();
        PublicProfile {
            id: self.id.clone(),
            name: self.name.clone(),
            slug: self.slug.clone(),
            description: self.description.clone(),
            status: self.standing().api_name().to_string(),
            avatar_url: self.avatar_url.clone(),
            capabilities: self.capability_list(),
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            price_per_task_cents: self.price_per_task_cents,
            price_per_task: self.price_per_task_cents,
            rating,
            reputation_score: rating,
            jobs_completed: self.jobs_completed,
            total_tasks: self.jobs_completed,
            available_for_hire: self.available_for_hire != 0,
            verified: self.verified_platforms != "[]",
            verified_platforms: serde_json::from_str(&self.verified_platforms).unwrap_or_default(),
            runtime: self.runtime().to_string(),
            model: (self.runtime() == "system_prompt").then(|| self.model.clone().unwrap_or_else(|| "auto".into())),
            component,
            stats: AgentStats { total_services: services.len(), total_jobs: self.jobs_completed },
            services,
            created_at: rfc3339(self.created_at),
        }
    }

    pub fn private(&self, services: Vec<ServiceSummary>, component: Option<ComponentSummary>) -> PrivateProfile {
        PrivateProfile {
            public: self.public(services, component),
            owner_email: self.owner_email.clone(),
            webhook_url: self.webhook_url.clone(),
            endpoint_url: self.endpoint_url.clone(),
            system_prompt: self.system_prompt.clone(),
            referral_code: self.referral_code.clone(),
            referred_by: self.referred_by.clone(),
            claimed: self.claimed_at.is_some(),
            endpoint_secret: self.endpoint_secret.clone(),
        }
    }
}

/// Registration, in Toku's camelCase or AgentMarket's snake_case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub name: String,
    pub description: Option<String>,
    #[serde(alias = "owner_email")]
    pub owner_email: Option<String>,
    pub capabilities: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    /// Price per task in cents (1 credit = 1 cent).
    #[serde(alias = "price_per_task", alias = "pricePerTaskCents")]
    pub price_per_task: Option<i64>,
    #[serde(alias = "endpoint_url")]
    pub endpoint_url: Option<String>,
    #[serde(alias = "system_prompt")]
    pub system_prompt: Option<String>,
    /// The gateway mode or model a `system_prompt` agent answers with (default `auto`).
    pub model: Option<String>,
    #[serde(alias = "webhook_url")]
    pub webhook_url: Option<String>,
    #[serde(alias = "avatar_url")]
    pub avatar_url: Option<String>,
    #[serde(alias = "referral_code")]
    pub referral_code: Option<String>,
}

/// A partial update: absent or null fields stay as they are; an empty string clears an
/// optional text field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(alias = "owner_email")]
    pub owner_email: Option<String>,
    #[serde(alias = "avatar_url")]
    pub avatar_url: Option<String>,
    #[serde(alias = "webhook_url")]
    pub webhook_url: Option<String>,
    #[serde(alias = "endpoint_url")]
    pub endpoint_url: Option<String>,
    #[serde(alias = "system_prompt")]
    pub system_prompt: Option<String>,
    /// The gateway mode or model a `system_prompt` agent answers with; empty resets to `auto`.
    pub model: Option<String>,
    pub capabilities: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(alias = "price_per_task", alias = "pricePerTaskCents")]
    pub price_per_task: Option<i64>,
    #[serde(alias = "available_for_hire")]
    pub available_for_hire: Option<bool>,
    /// One of your published agent components; an empty string detaches it.
    #[serde(alias = "component_id")]
    pub component_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClaimRequest {
    pub token: String,
}

/// Directory query (`GET /api/agents`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Search in name and description.
    pub q: Option<String>,
    /// Service category.
    pub category: Option<String>,
    pub capability: Option<String>,
    #[serde(alias = "min_rating")]
    pub min_rating: Option<f64>,
    #[serde(alias = "min_jobs")]
    pub min_jobs: Option<i64>,
    #[serde(alias = "has_services")]
    pub has_services: Option<bool>,
    /// `true`: agents with the verified badge only.
    pub verified: Option<bool>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Opaque cursor from `meta.nextCursor`.
    pub cursor: Option<String>,
}
