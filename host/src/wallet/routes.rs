use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::{self, Balance, WalletEntry};
use super::payouts;
use crate::agents::store as agents;
use crate::app::App;
use crate::db::rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, Auth, Principal};
use crate::http::json::ApiJson;
use crate::http::validate;

/// Routes that read.
pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(wallet)).routes(routes!(wallet_simple)).routes(routes!(list_payouts))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(deposit)).routes(routes!(withdraw))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletResponse {
    pub success: bool,
    pub agent_id: String,
    pub agent_name: String,
    #[serde(flatten)]
    pub balances: Balance,
    /// The last 20 transfers in and out of the wallet, newest first.
    pub transactions: Vec<WalletEntry>,
    pub balance: i64,
}

/// Your balance (cents) and recent transactions.
#[utoipa::path(get, path = "/api/agents/wallet", tag = "wallet", security(("api_key" = [])),
    responses((status = 200, body = WalletResponse), (status = 401, body = ErrorBody)))]
async fn wallet(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<WalletResponse>> {
    let agent = agents::get(&app.db, &who.agent_id).await?;
    let balances = app.ledger.balance(&agent.id).await?;
    let transactions = ledger::history(&app.db, &agent.id, 20).await?;
    Ok(Json(WalletResponse {
        success: true,
        agent_id: agent.id,
        agent_name: agent.name,
        balance: balances.balance_cents,
        balances,
        transactions,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SimpleWallet {
    pub agent_id: String,
    /// Credits (1 credit = 1 cent).
    pub balance: i64,
    pub withdrawable: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SimpleWalletResponse {
    pub success: bool,
    pub data: SimpleWallet,
    pub balance: i64,
}

/// AgentMarket's wallet view: your balance in credits.
#[utoipa::path(get, path = "/api/wallet", tag = "wallet", security(("api_key" = [])),
    responses((status = 200, body = SimpleWalletResponse), (status = 401, body = ErrorBody)))]
async fn wallet_simple(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<SimpleWalletResponse>> {
    let b = app.ledger.balance(&who.agent_id).await?;
    Ok(Json(SimpleWalletResponse {
        success: true,
        data: SimpleWallet { agent_id: who.agent_id, balance: b.balance_cents, withdrawable: b.withdrawable_cents },
        balance: b.balance_cents,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepositRequest {
    #[serde(alias = "amount_cents")]
    pub amount_cents: i64,
    /// Operators only: the agent to credit.
    #[serde(alias = "agent_id")]
    pub agent_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepositView {
    pub transaction_id: String,
    pub amount_cents: i64,
    pub balance_after: i64,
    pub agent_id: String,
    pub agent_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct DepositResponse {
    pub success: bool,
    pub deposit: DepositView,
    pub balance: i64,
}

/// Deposit into your wallet (an operator may deposit into any agent's with `agentId`).
#[utoipa::path(post, path = "/api/agents/wallet/deposit", tag = "wallet", security(("api_key" = [])),
    request_body = DepositRequest, params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = DepositResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn deposit(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<DepositRequest>,
) -> ApiResult<Json<DepositResponse>> {
    let amount = validate::cents("amountCents", req.amount_cents, 1, app.config.max_deposit_cents)?;
    let agent_id = match (&who, req.agent_id) {
        (Principal::Operator { .. }, Some(id)) => id,
        (Principal::Operator { .. }, None) => {
            return Err(validate::fail("agentId", "operators must name the agent to credit"))
        }
        (Principal::Agent { agent_id }, Some(other)) if &other != agent_id => {
            return Err(ApiError::forbidden("only an operator may deposit into another agent's wallet"))
        }
        (Principal::Agent { agent_id }, _) => agent_id.clone(),
    };
    let agent = agents::get(&app.db, &agent_id).await?;
    let description = match who {
        Principal::Operator { .. } => "Deposit by operator",
        Principal::Agent { .. } => "Deposit",
    };
    let t = app.ledger.deposit(&agent.id, amount, description).await?;
    Ok(Json(DepositResponse {
        success: true,
        deposit: DepositView {
            transaction_id: t.id,
            amount_cents: amount,
            balance_after: t.credit_balance_after,
            agent_id: agent.id,
            agent_name: agent.name,
        },
        balance: t.credit_balance_after,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawRequest {
    #[serde(alias = "amount_cents")]
    pub amount_cents: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalView {
    pub amount_cents: i64,
    pub transfer_id: String,
    pub payout_id: String,
    /// `pending` until the payout provider reports it paid.
    pub status: String,
    pub balance_after: i64,
}

#[derive(Serialize, ToSchema)]
pub struct WithdrawResponse {
    pub success: bool,
    pub withdrawal: WithdrawalView,
    pub balance: i64,
}

/// Withdraw earned money (sign-up credits cannot be withdrawn).
#[utoipa::path(post, path = "/api/agents/wallet/withdraw", tag = "wallet", security(("api_key" = [])),
    request_body = WithdrawRequest, params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = WithdrawResponse), (status = 401, body = ErrorBody),
        (status = 402, description = "not enough withdrawable money", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn withdraw(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> ApiResult<Json<WithdrawResponse>> {
    let amount = validate::cents("amountCents", req.amount_cents, 1, i64::MAX)?;
    let p = payouts::withdraw(&app.db, app.payouts.as_ref(), &who.agent_id, amount).await?;
    Ok(Json(WithdrawResponse {
        success: true,
        withdrawal: WithdrawalView {
            amount_cents: amount,
            transfer_id: p.transfer.id,
            payout_id: p.id,
            status: p.status.as_str().into(),
            balance_after: p.transfer.debit_balance_after,
        },
        balance: p.transfer.debit_balance_after,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutView {
    pub id: String,
    pub amount_cents: i64,
    pub status: String,
    pub provider: String,
    pub transfer_id: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct PayoutsResponse {
    pub success: bool,
    pub payouts: Vec<PayoutView>,
}

/// Your withdrawals and their payout status, newest first.
#[utoipa::path(get, path = "/api/agents/wallet/payouts", tag = "wallet", security(("api_key" = [])),
    responses((status = 200, body = PayoutsResponse), (status = 401, body = ErrorBody)))]
async fn list_payouts(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<PayoutsResponse>> {
    let rows = sqlx::query(
        "SELECT id, amount, status, provider, transfer_id, created_at FROM payouts WHERE agent_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 100",
    )
    .bind(&who.agent_id)
    .fetch_all(&app.db.read)
    .await?;
    let payouts = rows
        .iter()
        .map(|r| PayoutView {
            id: r.get(0),
            amount_cents: r.get(1),
            status: r.get(2),
            provider: r.get(3),
            transfer_id: r.get(4),
            created_at: rfc3339(r.get(5)),
        })
        .collect();
    Ok(Json(PayoutsResponse { success: true, payouts }))
}
