//! Listing, editing and finding services. Validation happens here, so every entry point
//! (HTTP now, the SDKs' `add_service`, later capabilities) gets the same rules.

use super::model::*;
use super::store::{self, Filter, Sort};
use super::ServiceError;
use crate::agents::store as agents;
use crate::db::page::{BadQuery, Page, PageMeta};
use crate::db::{new_id, now_ms};
use crate::executions::{service as executions, ExecutionError};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail, Invalid};

/// The most a tier may cost, and a subscription's month.
const MAX_PRICE_CENTS: i64 = 100_000_000;

pub async fn create(app: &App, agent_id: &str, req: &NewServiceRequest) -> Result<ServiceRow, ServiceError> {
    let service_type = match req.service_type.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => t
            .to_uppercase()
            .replace('-', "_")
            .parse::<ServiceType>()
            .map_err(|_| fail("type", "must be ONE_OFF or SUBSCRIPTION"))?,
        None => ServiceType::OneOff,
    };
    let now = now_ms();
    let mut row = ServiceRow {
        id: new_id(),
        agent_id: agent_id.to_string(),
        title: String::new(),
        description: String::new(),
        category: String::new(),
        price_cents: 0,
        tags: "[]".into(),
        tiers: "[]".into(),
        service_type: service_type.as_str().into(),
        fulfilment: Fulfilment::Manual.as_str().into(),
        run_interval_hours: None,
        active: 1,
        created_at: now,
        updated_at: now,
    };
    let subscription = service_type == ServiceType::Subscription;
    let tiers = match (&req.tiers[..], req.price_cents) {
        _ if subscription => req.tiers.clone(),
        ([], Some(price)) => vec![Tier {
            name: "Basic".into(),
            description: String::new(),
            price_cents: price,
            delivery_days: 1,
            features: Vec::new(),
        }],
        (tiers, _) => tiers.to_vec(),
    };
    let patch = ServicePatch {
        title: Some(req.title.clone()),
        description: Some(req.description.clone()),
        category: Some(req.category.clone()),
        tags: Some(req.tags.clone()),
        tiers: Some(tiers),
        fulfilment: req.fulfilment.clone(),
        run_interval_hours: req.run_interval_hours,
        monthly_price_cents: if subscription {
            req.monthly_price_cents.or(req.price_cents)
        } else {
            req.monthly_price_cents
        },
        active: None,
    };
    apply(&mut row, &patch)?;
    check_fulfilment(app, &row).await?;
    transaction!(app.db, |c| store::insert(c, &row))?;
    Ok(row)
}

/// A `component` service needs its agent to have an agent component to run.
async fn check_fulfilment(app: &App, row: &ServiceRow) -> Result<(), ServiceError> {
    if row.fulfilled_by() != Fulfilment::Component || row.active == 0 {
        return Ok(());
    }
    let agent = agents::get(&app.db, &row.agent_id).await?.ok_or(ServiceError::NotFound)?;
    match executions::component_runner(app, &agent).await {
        Ok(_) => Ok(()),
        Err(ExecutionError::Db(e)) => Err(e.into()),
        Err(_) => Err(fail(
            "fulfilment",
            "component fulfilment runs your agent's component: publish an agent component and set it as your agent's componentId first",
        )
        .into()),
    }
}

/// The service, if `agent_id` offers it; someone else's is not found.
async fn own(app: &App, agent_id: &str, id: &str) -> Result<ServiceRow, ServiceError> {
    match store::get(&app.db, id).await? {
        Some(s) if s.agent_id == agent_id => Ok(s),
        _ => Err(ServiceError::NotFound),
    }
}

pub async fn update(app: &App, agent_id: &str, id: &str, patch: &ServicePatch) -> Result<ServiceRow, ServiceError> {
    let mut row = own(app, agent_id, id).await?;
    apply(&mut row, patch)?;
    check_fulfilment(app, &row).await?;
    row.updated_at = now_ms();
    transaction!(app.db, |c| store::update(c, &row))?;
    Ok(row)
}

/// Takes the service off the market. Jobs already hired go on as they were.
pub async fn deactivate(app: &App, agent_id: &str, id: &str) -> Result<ServiceRow, ServiceError> {
    update(app, agent_id, id, &ServicePatch { active: Some(false), ..Default::default() }).await
}

/// Any service by id, active or not (a buyer's jobs link to it).
pub async fn get(app: &App, id: &str) -> Result<ServiceRow, ServiceError> {
    store::get(&app.db, id).await?.ok_or(ServiceError::NotFound)
}

pub async fn view(app: &App, row: &ServiceRow) -> Result<ServiceView, ServiceError> {
    let mut agents = store::agents_of(&app.db, &[&row.agent_id]).await?;
    Ok(row.view(agents.remove(&row.agent_id)))
}

/// Merges `patch` into `row`, checking each field and the tiers against the type.
fn apply(row: &mut ServiceRow, patch: &ServicePatch) -> Result<(), Invalid> {
    if let Some(title) = &patch.title {
        row.title = validate::text("title", title, 200)?;
    }
    if let Some(description) = &patch.description {
        row.description = validate::optional_text("description", description, 10_000)?;
    }
    if let Some(category) = &patch.category {
        row.category = validate::optional_text("category", category, 64)?.to_lowercase();
    }
    if let Some(tags) = &patch.tags {
        row.tags = serde_json::to_string(&validate::labels("tags", tags, 20)?).unwrap_or_default();
    }
    if let Some(f) = patch.fulfilment.as_deref().map(str::trim) {
        let f =
            f.to_lowercase().parse::<Fulfilment>().map_err(|_| fail("fulfilment", "must be manual or component"))?;
        row.fulfilment = f.as_str().into();
    }
    if let Some(active) = patch.active {
        row.active = i64::from(active);
    }
    match row.kind() {
        ServiceType::OneOff => {
            if patch.run_interval_hours.is_some() || patch.monthly_price_cents.is_some() {
                return Err(fail("type", "runIntervalHours and monthlyPriceCents are for SUBSCRIPTION services"));
            }
            if let Some(tiers) = &patch.tiers {
                let tiers = check_tiers(tiers)?;
                row.price_cents = tiers.iter().map(|t| t.price_cents).min().unwrap_or(0);
                row.tiers = serde_json::to_string(&tiers).unwrap_or_default();
            }
        }
        ServiceType::Subscription => {
            if patch.tiers.as_ref().is_some_and(|t| !t.is_empty()) {
                return Err(fail("tiers", "a SUBSCRIPTION service has a monthly price, not tiers"));
            }
            if let Some(hours) = patch.run_interval_hours {
                row.run_interval_hours = Some(validate_range("runIntervalHours", hours, 1, 24 * 31)?);
            }
            if let Some(price) = patch.monthly_price_cents {
                row.price_cents = validate::cents("monthlyPriceCents", price, 1, MAX_PRICE_CENTS)?;
            }
            if row.run_interval_hours.is_none() {
                return Err(fail("runIntervalHours", "a SUBSCRIPTION service needs runIntervalHours"));
            }
            if row.price_cents < 1 {
                return Err(fail("monthlyPriceCents", "a SUBSCRIPTION service needs monthlyPriceCents"));
            }
        }
    }
    Ok(())
}

fn validate_range(field: &str, value: i64, min: i64, max: i64) -> Result<i64, Invalid> {
    if !(min..=max).contains(&value) {
        return Err(fail(field, &format!("must be between {min} and {max}")));
    }
    Ok(value)
}

/// One to three tiers, named Basic, Standard and Premium (in any case, each once), in that
/// order once stored.
fn check_tiers(tiers: &[Tier]) -> Result<Vec<Tier>, Invalid> {
    if tiers.is_empty() || tiers.len() > TIER_NAMES.len() {
        return Err(fail("tiers", "give one to three tiers (Basic, Standard, Premium), or priceCents"));
    }
    let mut out: Vec<Tier> = Vec::with_capacity(tiers.len());
    for t in tiers {
        let Some(name) = TIER_NAMES.iter().find(|n| n.eq_ignore_ascii_case(t.name.trim())) else {
            return Err(fail("tiers", "each tier is named Basic, Standard or Premium"));
        };
        if out.iter().any(|o| o.name == *name) {
            return Err(fail("tiers", &format!("the {name} tier is given twice")));
        }
        let features: Vec<String> =
            t.features.iter().map(|f| validate::text("tiers.features", f, 200)).collect::<Result<_, _>>()?;
        if features.len() > 20 {
            return Err(fail("tiers.features", "at most 20 features per tier"));
        }
        out.push(Tier {
            name: name.to_string(),
            description: validate::optional_text("tiers.description", &t.description, 2_000)?,
            price_cents: validate::cents("tiers.priceCents", t.price_cents, 1, MAX_PRICE_CENTS)?,
            delivery_days: validate_range("tiers.deliveryDays", t.delivery_days, 1, 365)?,
            features,
        });
    }
    out.sort_by_key(|t| TIER_NAMES.iter().position(|n| *n == t.name));
    Ok(out)
}

/// A page of services with their agents.
pub struct Listing {
    pub services: Vec<ServiceView>,
    pub meta: PageMeta,
}

/// `GET /api/services`: browse by text and category, in one of four orders.
pub async fn browse(app: &App, q: &BrowseQuery) -> Result<Listing, ServiceError> {
    let sort = match q.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("newest") => Sort::Newest,
        Some("price-low") => Sort::PriceLow,
        Some("price-high") => Sort::PriceHigh,
        Some("rating") => Sort::Rating,
        Some(_) => return Err(BadQuery("sort must be newest, price-low, price-high or rating".into()).into()),
    };
    let filter = Filter { q: given(&q.q), category: given(&q.category), sort, ..Default::default() };
    list(app, &filter, Page::parse(q.limit, q.offset, None)?).await
}

/// `GET /api/services/search`: Toku's richer filters, newest first, with a cursor.
pub async fn search(app: &App, q: &SearchQuery) -> Result<Listing, ServiceError> {
    let rating = match q.min_rating {
        Some(r) if !(0.0..=5.0).contains(&r) => return Err(BadQuery("minRating must be between 0 and 5".into()).into()),
        r => r.map(|r| (r * 100.0).round() as i64),
    };
    let max_price = match q.max_price {
        Some(p) if !(p.is_finite() && p >= 0.0) => {
            return Err(BadQuery("maxPrice must be dollars, 0 or more".into()).into())
        }
        p => p.map(|p| (p * 100.0).round().min(i64::MAX as f64) as i64),
    };
    let tags: Vec<String> =
        q.tags.as_deref().unwrap_or("").split(',').map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    let filter = Filter {
        q: given(&q.q),
        category: given(&q.category),
        tags,
        min_rating_x100: rating,
        max_price_cents: max_price,
        agent_name: given(&q.agent),
        ..Default::default()
    };
    list(app, &filter, Page::parse(q.limit, q.offset, q.cursor.as_deref())?).await
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

async fn list(app: &App, filter: &Filter, page: Page) -> Result<Listing, ServiceError> {
    let (rows, total) = store::list(&app.db, filter, &page).await?;
    let (rows, mut meta) = page.cut(rows, total, |s| (s.created_at, s.id.clone()));
    if filter.sort != Sort::Newest {
        meta.next_cursor = None;
    }
    let ids: Vec<&str> = rows.iter().map(|s| s.agent_id.as_str()).collect();
    let agents = store::agents_of(&app.db, &ids).await?;
    let services = rows.iter().map(|s| s.view(agents.get(&s.agent_id).cloned())).collect();
    Ok(Listing { services, meta })
}
