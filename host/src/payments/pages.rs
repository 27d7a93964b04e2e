//! The pages a payer sees on this host: the `test` provider's checkout and onboarding pages
//! (served only while it is the provider), and the landing pages a checkout or onboarding
//! returns to when the caller named none. Plain HTML forms, no scripts.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::service::{self, Received};
use super::store::{self, CheckoutRow, CheckoutStatus};
use super::test_provider::{self, TestPayments};
use crate::state::App;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/pay/test/checkout/{id}", get(checkout_page).post(pay))
        .route("/pay/test/connect/{account}", get(connect_page).post(finish_onboarding))
        .route("/pay/done", get(|| async { page("Payment received", "<p>Thank you. Your wallet is credited as soon as the payment is confirmed. You can close this window.</p>") }))
        .route("/pay/cancelled", get(|| async { page("Payment cancelled", "<p>Nothing was charged. You can close this window.</p>") }))
        .route("/pay/connected", get(|| async { page("Payout account", "<p>Onboarding is done or was left for later. You can close this window.</p>") }))
        .route("/pay/terms", get(terms))
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto\"><h1>{title}</h1>{body}</body></html>"
    );
    Html(html).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, page("Not found", "<p>There is no such page here.</p>")).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn dollars(cents: i64) -> String {
    format!("${}", crate::wallet::usd(cents))
}

/// The test provider, when it is the one in use.
fn test_provider(app: &App) -> Option<&TestPayments> {
    app.test_payments.as_deref()
}

/// The test provider and one of its checkouts; the answer to give otherwise.
async fn test_checkout<'a>(app: &'a App, id: &str) -> Result<(&'a TestPayments, CheckoutRow), Response> {
    let Some(test) = test_provider(app) else { return Err(not_found()) };
    match store::checkout(&app.db, id).await {
        Ok(Some(row)) if row.provider == test_provider::NAME => Ok((test, row)),
        Ok(_) => Err(not_found()),
        Err(e) => Err(crate::error::ApiError::from(e).into_response()),
    }
}

async fn checkout_page(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let row = match test_checkout(&app, &id).await {
        Ok((_, row)) => row,
        Err(answer) => return answer,
    };
    let amount = dollars(row.amount_cents);
    let body = match row.status {
        CheckoutStatus::Paid => format!("<p>This checkout of {amount} is paid.</p>"),
        CheckoutStatus::Expired => "<p>This checkout expired.</p>".to_string(),
        CheckoutStatus::Creating | CheckoutStatus::Open => format!(
            "<p>Test payment: no real money moves. Deposit of <strong>{amount}</strong> into an Agora wallet.</p>\
             <form method=\"post\"><fieldset><legend>Test card</legend>\
             <label><input type=\"radio\" name=\"card\" value=\"4242\" checked> Visa •••• 4242 (later charges succeed)</label><br>\
             <label><input type=\"radio\" name=\"card\" value=\"{declining}\"> Visa •••• {declining} (later charges are declined)</label>\
             </fieldset><p><button type=\"submit\" id=\"pay\">Pay {amount}</button> \
             <a href=\"{cancel}\">Cancel</a></p></form>",
            declining = test_provider::DECLINING_CARD,
            cancel = escape(&row.cancel_url),
        ),
    };
    page("Agora test checkout", &body)
}

#[derive(Deserialize)]
struct PayForm {
    card: Option<String>,
}

/// The pay button: the test provider's signed callback, through the path real callbacks take;
/// then the payer goes where the checkout said.
async fn pay(State(app): State<Arc<App>>, Path(id): Path<String>, Form(form): Form<PayForm>) -> Response {
    let (test, row) = match test_checkout(&app, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let last4 = match form.card.as_deref() {
        Some(test_provider::DECLINING_CARD) => test_provider::DECLINING_CARD,
        _ => "4242",
    };
    let (headers, body) = test.checkout_paid(&row.id, row.amount_cents, last4);
    match service::receive(&app, test_provider::NAME, &headers, &body).await {
        Ok(Received::Credited | Received::Acknowledged) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, row.success_url)]).into_response()
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct ReturnTo {
    return_url: Option<String>,
}

async fn connect_page(State(app): State<Arc<App>>, Path(account): Path<String>, Query(q): Query<ReturnTo>) -> Response {
    if test_provider(&app).is_none() {
        return not_found();
    }
    let return_url = q.return_url.unwrap_or_default();
    page(
        "Agora test payouts",
        &format!(
            "<p>Test onboarding of payout account <code>{account}</code>: no bank account is asked for.</p>\
             <form method=\"post\"><input type=\"hidden\" name=\"return_url\" value=\"{return_url}\">\
             <button type=\"submit\" id=\"finish\">Finish onboarding</button></form>",
            account = escape(&account),
            return_url = escape(&return_url),
        ),
    )
}

async fn finish_onboarding(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    Form(form): Form<ReturnTo>,
) -> Response {
    let Some(test) = test_provider(&app) else { return not_found() };
    let (headers, body) = test.account_onboarded(&account);
    if let Err(e) = service::receive(&app, test_provider::NAME, &headers, &body).await {
        return crate::error::ApiError::from(e).into_response();
    }
    // A link, not a redirect: the address came in the query string, from anyone.
    let next = form
        .return_url
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| format!("<p><a href=\"{}\">Continue</a></p>", escape(&u)))
        .unwrap_or_default();
    page("Payout account ready", &format!("<p>Payouts are enabled for <code>{}</code>.</p>{next}", escape(&account)))
}

async fn terms(State(app): State<Arc<App>>) -> Response {
    let version = escape(&app.config.payments.billing_terms_version);
    page(
        "Billing terms",
        &format!(
            "<p>Version {version}. Balances are prepaid in US dollars and used by the requests you make. \
             With auto pay on, your saved card is charged the chosen amount whenever the balance falls below \
             the threshold. The operator of this host publishes its full terms at the address it configures \
             (<code>billing_terms_url</code>).</p>"
        ),
    )
}
