use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;
use crate::wallet::usd;

crate::stored_enum! {
    /// A one-off job or a recurring subscription.
    pub enum ServiceType { OneOff => "ONE_OFF", Subscription => "SUBSCRIPTION" }
}

crate::stored_enum! {
    /// Who does the work: the agent through the job lifecycle, or its Wasm component (recorded;
    /// jobs do not run it yet).
    pub enum Fulfilment { Manual => "manual", Component => "component" }
}

/// The tier names Toku uses, in order.
pub const TIER_NAMES: [&str; 3] = ["Basic", "Standard", "Premium"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    /// `Basic`, `Standard` or `Premium`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub price_cents: i64,
    /// Days the worker has to deliver once it accepts.
    #[serde(default = "one_day")]
    pub delivery_days: i64,
    #[serde(default)]
    pub features: Vec<String>,
}

fn one_day() -> i64 {
    1
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewServiceRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// One to three tiers. Without tiers, `priceCents` makes a single `Basic` tier.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    pub price_cents: Option<i64>,
    /// `ONE_OFF` (default) or `SUBSCRIPTION`.
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    /// `manual` (default) or `component`: the agent's component does the work.
    pub fulfilment: Option<String>,
    /// Subscriptions: hours between runs.
    pub run_interval_hours: Option<i64>,
    /// Subscriptions: the price of a month.
    pub monthly_price_cents: Option<i64>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub tiers: Option<Vec<Tier>>,
    pub fulfilment: Option<String>,
    pub run_interval_hours: Option<i64>,
    pub monthly_price_cents: Option<i64>,
    /// `false` takes the service off the market (as `DELETE` does), `true` lists it again.
    pub active: Option<bool>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct ServiceRow {
        pub id: String,
        pub agent_id: String,
        pub title: String,
        pub description: String,
        pub category: String,
        pub price_cents: i64,
        pub tags: String,
        pub tiers: String,
        pub service_type: String,
        pub fulfilment: String,
        pub run_interval_hours: Option<i64>,
        pub active: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

pub const SERVICE_COLUMNS: &str = "id, agent_id, title, description, category, price_cents, tags, tiers, \
    service_type, fulfilment, run_interval_hours, active, created_at, updated_at";

/// The agent offering a service, as search results show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAgent {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// Average rating 0-5, null before the first review.
    pub rating: Option<f64>,
    pub jobs_completed: i64,
    pub available_for_hire: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    /// The cheapest tier, or a subscription's monthly price.
    pub price_cents: i64,
    pub price_usd: String,
    pub tiers: Vec<Tier>,
    /// `ONE_OFF` or `SUBSCRIPTION`.
    #[serde(rename = "type")]
    pub service_type: String,
    /// `manual` or `component`.
    pub fulfilment: String,
    pub run_interval_hours: Option<i64>,
    pub monthly_price_cents: Option<i64>,
    pub active: bool,
    pub agent_id: String,
    pub agent: Option<ServiceAgent>,
    pub created_at: String,
    pub updated_at: String,
}

impl ServiceRow {
    pub fn tier_list(&self) -> Vec<Tier> {
        serde_json::from_str(&self.tiers).unwrap_or_default()
    }

    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    pub fn kind(&self) -> ServiceType {
        self.service_type.parse().unwrap_or(ServiceType::OneOff)
    }

    pub fn fulfilled_by(&self) -> Fulfilment {
        self.fulfilment.parse().unwrap_or(Fulfilment::Manual)
    }

    /// The tier by name, case-insensitively; the cheapest when no name is given.
    pub fn tier(&self, name: Option<&str>) -> Option<Tier> {
        let tiers = self.tier_list();
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => tiers.into_iter().find(|t| t.name.eq_ignore_ascii_case(name)),
            None => tiers.into_iter().min_by_key(|t| t.price_cents),
        }
    }

    pub fn view(&self, agent: Option<ServiceAgent>) -> ServiceView {
        let subscription = self.kind() == ServiceType::Subscription;
        ServiceView {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            tags: self.tag_list(),
            price_cents: self.price_cents,
            price_usd: usd(self.price_cents),
            tiers: self.tier_list(),
            service_type: self.service_type.clone(),
            fulfilment: self.fulfilment.clone(),
            run_interval_hours: self.run_interval_hours,
            monthly_price_cents: subscription.then_some(self.price_cents),
            active: self.active == 1,
            agent_id: self.agent_id.clone(),
            agent,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct BrowseQuery {
    /// Text in the title or description.
    pub q: Option<String>,
    pub category: Option<String>,
    /// `newest` (default), `price-low`, `price-high` or `rating`.
    pub sort: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    /// Text in the title or description.
    pub q: Option<String>,
    pub category: Option<String>,
    /// Comma-separated; a service with any of them matches.
    pub tags: Option<String>,
    /// The agent's average rating, 0 to 5.
    pub min_rating: Option<f64>,
    /// In US dollars: services whose cheapest tier costs at most this.
    pub max_price: Option<f64>,
    /// Text in the agent's name.
    pub agent: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// From the previous page's `meta.nextCursor` (newest first).
    pub cursor: Option<String>,
}
