use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::{Balance, DepositSource};
use super::service::{self, Deposit, Withdrawal};
use super::store::{self, WalletEntry};
use crate::db::rfc3339;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, Auth};
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::ApiJson;
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

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
    let agent = crate::agents::service::get(&app, &who.agent_id).await?;
    let balances = app.ledger.balance(&agent.id).await?;
    let transactions = store::history(&app.db, &agent.id, 20).await?;
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
    /// True when a payment stands behind it (withdrawable money); false for credit.
    pub funded: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DepositResponse {
    pub success: bool,
    pub deposit: DepositView,
    pub balance: i64,
}

impl From<&Deposit> for DepositResponse {
    fn from(d: &Deposit) -> Self {
        DepositResponse {
            success: true,
            deposit: DepositView {
                transaction_id: d.transfer.id.clone(),
                amount_cents: d.transfer.amount,
                balance_after: d.transfer.credit_balance_after,
                agent_id: d.agent_id.clone(),
                agent_name: d.agent_name.clone(),
                funded: d.source == DepositSource::Funded,
            },
            balance: d.transfer.credit_balance_after,
        }
    }
}

fn render_deposit(d: &Deposit) -> Recorded {
    json_answer(StatusCode::OK, &DepositResponse::from(d))
}

/// Deposit into a wallet. An operator deposits funded money into any agent's wallet (with
/// `agentId`), after a payment made outside the platform. An agent's own deposit has no
/// payment behind it: it is credited as credit (spendable, not withdrawable), or refused if
/// the operator set `AGORA_SELF_DEPOSIT=refuse`.
#[utoipa::path(post, path = "/api/agents/wallet/deposit", tag = "wallet", security(("api_key" = [])),
    request_body = DepositRequest, params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = DepositResponse), (status = 401, body = ErrorBody),
        (status = 403, description = "another agent's wallet, or agents' own deposits are refused here", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn deposit(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<DepositRequest>,
) -> ApiResult<Json<DepositResponse>> {
    let answer = Answer::new(claim.get(), render_deposit);
    let done = service::deposit(&app, &who, req.amount_cents, req.agent_id.as_deref(), answer).await?;
    Ok(Json(DepositResponse::from(&done)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawRequest {
    #[serde(alias = "amount_cents")]
    pub amount_cents: i64,
    /// An approved guardrail approval for this very withdrawal (`approval_required` named it).
    #[serde(default, alias = "approval_id")]
    pub approval_id: Option<String>,
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

impl From<&Withdrawal> for WithdrawResponse {
    fn from(w: &Withdrawal) -> Self {
        WithdrawResponse {
            success: true,
            withdrawal: WithdrawalView {
                amount_cents: w.transfer.amount,
                transfer_id: w.transfer.id.clone(),
                payout_id: w.payout_id.clone(),
                status: w.status.as_str().into(),
                balance_after: w.transfer.debit_balance_after,
            },
            balance: w.transfer.debit_balance_after,
        }
    }
}

fn render_withdrawal(w: &Withdrawal) -> Recorded {
    json_answer(StatusCode::OK, &WithdrawResponse::from(w))
}

/// Withdraw money that came from funded sources (credit cannot be withdrawn). With Stripe as
/// the payment provider, it is transferred to the agent's connected account, which needs
/// onboarding finished first (`POST /api/agents/connect`; 409 `payouts_not_enabled` before).
#[utoipa::path(post, path = "/api/agents/wallet/withdraw", tag = "wallet", security(("api_key" = [])),
    request_body = WithdrawRequest, params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = WithdrawResponse), (status = 401, body = ErrorBody),
        (status = 402, description = "not enough withdrawable money", body = ErrorBody),
        (status = 403, description = "policy_denied or approval_required by a guardrail policy", body = ErrorBody),
        (status = 409, description = "payouts need onboarding first", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn withdraw(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<WithdrawRequest>,
) -> ApiResult<Json<WithdrawResponse>> {
    let answer = Answer::new(claim.get(), render_withdrawal);
    let done = service::withdraw(&app, &who.agent_id, req.amount_cents, req.approval_id, answer).await?;
    Ok(Json(WithdrawResponse::from(&done)))
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
    let payouts = store::payouts_of(&app.db, &who.agent_id, 100)
        .await?
        .into_iter()
        .map(|r| PayoutView {
            id: r.id,
            amount_cents: r.amount,
            status: r.status,
            provider: r.provider,
            transfer_id: r.transfer_id,
            created_at: rfc3339(r.created_at),
        })
        .collect();
    Ok(Json(PayoutsResponse { success: true, payouts }))
}
