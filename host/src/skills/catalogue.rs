//! Listing, editing, delisting and finding skills. A listing that runs on Agora names a `skill`
//! component of its author's; the component's `describe()` is taken when it is listed (and
//! when the component changes), so a buyer sees what it does before buying.

use std::sync::Arc;

use super::model::*;
use super::store::{self, Filter, Sort};
use super::SkillError;
use crate::agents::store as agents;
use crate::components::model::{is_semver, ComponentRow};
use crate::db::{new_id, now_ms};
use crate::executions::run::{ensure_prepared, invocation};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

/// The most a skill may cost (once, a month or a call).
const MAX_PRICE_CENTS: i64 = 100_000_000;
/// Fuel a skill's `describe()` may burn when it is listed; the host pays for it.
const DESCRIBE_FUEL: u64 = 50_000_000;

pub async fn create(app: &App, author_id: &str, req: &NewSkillRequest) -> Result<SkillRow, SkillError> {
    let now = now_ms();
    let mut row = SkillRow {
        id: new_id(),
        author_id: author_id.to_string(),
        title: String::new(),
        description: String::new(),
        category: String::new(),
        tags: "[]".into(),
        compatibility: "[]".into(),
        version: String::new(),
        pricing_model: String::new(),
        price_cents: 0,
        component_id: None,
        download_url: None,
        describe_json: None,
        listed: 1,
        rating_sum: 0,
        rating_count: 0,
        install_count: 0,
        created_at: now,
        updated_at: now,
    };
    let patch = SkillPatch {
        title: Some(req.title.clone()),
        description: Some(req.description.clone()),
        category: Some(req.category.clone()),
        tags: Some(req.tags.clone()),
        compatibility: Some(req.compatibility.clone()),
        version: Some(req.version.clone()),
        pricing_model: Some(req.pricing_model.clone()),
        price_cents: Some(req.price_cents),
        component_id: req.component_id.clone(),
        download_url: req.download_url.clone(),
        listed: None,
    };
    apply(app, &mut row, &patch).await?;
    transaction!(app.db, |c| store::insert(c, &row))?;
    Ok(row)
}

pub async fn update(app: &App, author_id: &str, id: &str, patch: &SkillPatch) -> Result<SkillRow, SkillError> {
    let mut row = own(app, author_id, id).await?;
    apply(app, &mut row, patch).await?;
    row.updated_at = now_ms();
    transaction!(app.db, |c| store::update(c, &row))?;
    Ok(row)
}

/// Takes the skill off the market; its licences stay valid and its calls go on.
pub async fn delist(app: &App, author_id: &str, id: &str) -> Result<SkillRow, SkillError> {
    update(app, author_id, id, &SkillPatch { listed: Some(false), ..SkillPatch::default() }).await
}

/// The author's skill; another agent's is not found.
async fn own(app: &App, author_id: &str, id: &str) -> Result<SkillRow, SkillError> {
    match store::get(&app.db, id).await? {
        Some(row) if row.author_id == author_id => Ok(row),
        _ => Err(SkillError::NotFound),
    }
}

/// Checks the patch's fields and merges them into `row`, then checks the whole.
async fn apply(app: &App, row: &mut SkillRow, p: &SkillPatch) -> Result<(), SkillError> {
    if let Some(title) = &p.title {
        row.title = validate::text("title", title, 200)?;
    }
    if let Some(description) = &p.description {
        row.description = validate::optional_text("description", description, 10_000)?;
    }
    if let Some(category) = &p.category {
        row.category = validate::text("category", &category.to_lowercase(), 64)?;
    }
    if let Some(tags) = &p.tags {
        row.tags = serde_json::to_string(&validate::labels("tags", tags, 20)?).unwrap_or_default();
    }
    if let Some(frameworks) = &p.compatibility {
        let frameworks = validate::labels("compatibility", frameworks, 20)?;
        if frameworks.iter().any(|f| f.contains('"')) {
            return Err(fail("compatibility", "labels may not hold quotes").into());
        }
        row.compatibility = serde_json::to_string(&frameworks).unwrap_or_default();
    }
    if let Some(version) = &p.version {
        if !is_semver(version.trim()) {
            return Err(fail("version", "must be a semantic version such as 1.2.0").into());
        }
        row.version = version.trim().to_string();
    }
    if let Some(model) = &p.pricing_model {
        let model = model
            .trim()
            .to_uppercase()
            .parse::<PricingModel>()
            .map_err(|_| fail("pricingModel", "must be FREE, ONE_TIME, SUBSCRIPTION or PER_CALL"))?;
        row.pricing_model = model.as_str().into();
    }
    if let Some(price) = p.price_cents {
        row.price_cents = price;
    }
    match row.model() {
        PricingModel::Free if row.price_cents != 0 => return Err(fail("priceCents", "a FREE skill costs 0").into()),
        PricingModel::Free => {}
        _ => row.price_cents = validate::cents("priceCents", row.price_cents, 1, MAX_PRICE_CENTS)?,
    }
    if let Some(listed) = p.listed {
        row.listed = i64::from(listed);
    }
    if let Some(url) = &p.download_url {
        row.download_url = match url.trim() {
            "" => None,
            url => Some(validate::web_url("downloadUrl", url, true)?),
        };
    }
    if let Some(component_id) = &p.component_id {
        match component_id.trim() {
            "" => {
                row.component_id = None;
                row.describe_json = None;
            }
            id if row.component_id.as_deref() != Some(id) => {
                let component = skill_component(app, &row.author_id, id).await?;
                row.describe_json = Some(describe(app, &component).await?);
                row.component_id = Some(component.id.clone());
            }
            _ => {}
        }
    }
    match (&row.component_id, &row.download_url) {
        (None, None) => Err(fail("componentId", "give a skill component of yours, or a downloadUrl").into()),
        (Some(_), Some(_)) => {
            Err(fail("downloadUrl", "a skill runs on Agora (componentId) or is downloaded, not both").into())
        }
        _ => Ok(()),
    }
}

/// The author's own component of kind `skill`.
async fn skill_component(app: &App, author_id: &str, id: &str) -> Result<Arc<ComponentRow>, SkillError> {
    let component = app.components.get(&app.db, id).await?;
    match component {
        Some(c) if c.publisher_id == author_id && c.kind == "skill" => Ok(c),
        Some(c) if c.publisher_id == author_id => {
            Err(SkillError::BadComponent(format!("component {id} is a {} component, not a skill", c.kind)))
        }
        _ => Err(SkillError::BadComponent(format!("you have no component {id}"))),
    }
}

/// Runs the component's `describe()` and keeps what it said, as JSON.
async fn describe(app: &App, c: &ComponentRow) -> Result<String, SkillError> {
    ensure_prepared(app, c).await.map_err(SkillError::DescribeFailed)?;
    let inv = invocation(app, c, format!("describe:{}", c.publisher_id), DESCRIBE_FUEL);
    let info = app
        .runtime
        .skill_describe(&c.digest, inv)
        .await
        .result
        .map_err(|e| SkillError::DescribeFailed(e.to_string()))?;
    let described = SkillDescription {
        name: info.name,
        version: info.version,
        description: info.description,
        input_schema: info.input_schema,
        output_schema: info.output_schema,
    };
    Ok(serde_json::to_string(&described).unwrap_or_default())
}

/// A listing with its component's digest, signature, grants and description.
pub async fn detail(app: &App, id: &str) -> Result<SkillDetail, SkillError> {
    let row = store::get(&app.db, id).await?.ok_or(SkillError::NotFound)?;
    let author = agents::get(&app.db, &row.author_id).await?.map(|a| a.name).unwrap_or_default();
    let component = match &row.component_id {
        Some(cid) => app.components.get(&app.db, cid).await?.map(|c| {
            let view = c.view();
            SkillComponent {
                id: view.id,
                name: view.name,
                version: view.version,
                digest: view.digest,
                signature_status: if view.signed { "verified" } else { "unsigned" }.into(),
                capabilities: view.capabilities,
                imports: view.imports,
            }
        }),
        None => None,
    };
    let describe = row.describe_json.as_deref().and_then(|d| serde_json::from_str(d).ok());
    Ok(SkillDetail { skill: row.view(&author), component, describe })
}

/// Toku's listing: one page of skills, the categories, and `{page, total}`.
pub struct Listing {
    pub skills: Vec<SkillView>,
    pub categories: Vec<String>,
    pub page: PageNumber,
    pub total: i64,
}

pub async fn browse(app: &App, viewer: Option<&str>, q: &SkillQuery) -> Result<Listing, SkillError> {
    let page = PageNumber::parse(q.page, q.limit)?;
    let sort = match q.sort.as_deref().unwrap_or("newest") {
        "newest" => Sort::Newest,
        "popular" => Sort::Popular,
        "rating" => Sort::Rating,
        "price_low" => Sort::PriceLow,
        "price_high" => Sort::PriceHigh,
        _ => return Err(fail("sort", "must be newest, popular, rating, price_low or price_high").into()),
    };
    let pricing_model = match q.pricing_model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => Some(
            m.to_uppercase()
                .parse::<PricingModel>()
                .map_err(|_| fail("pricingModel", "must be FREE, ONE_TIME, SUBSCRIPTION or PER_CALL"))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let min_rating_x100 = match q.min_rating {
        Some(r) if !(0.0..=5.0).contains(&r) => return Err(fail("minRating", "must be 0 to 5").into()),
        Some(r) => Some((r * 100.0).round() as i64),
        None => None,
    };
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let author_id = nonempty(&q.author_id);
    let filter = Filter {
        category: nonempty(&q.category),
        compatibility: nonempty(&q.compatibility),
        pricing_model,
        q: nonempty(&q.q),
        min_rating_x100,
        with_delisted: author_id.is_some() && author_id.as_deref() == viewer,
        author_id,
        sort,
    };
    let (rows, total) = store::list(&app.db, &filter, page.limit, page.offset()).await?;
    Ok(Listing {
        skills: rows.iter().map(|(row, author)| row.view(author)).collect(),
        categories: store::categories(&app.db).await?,
        page,
        total,
    })
}
