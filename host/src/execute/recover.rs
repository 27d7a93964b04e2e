//! Executions whose host died mid-run stay `running` with the buyer's budget in escrow. Once
//! they are older than any run could last, the budget is released and they are marked failed.

use std::time::Duration;

use crate::app::App;
use crate::db::now_ms;
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError};

pub fn stale_after(app: &App) -> Duration {
    Duration::from_millis(app.config.exec_timeout_ms.max(app.config.endpoint_timeout_ms)) + Duration::from_secs(120)
}

/// Releases the holds of interrupted executions; returns how many were recovered.
pub async fn recover_interrupted(app: &App) -> Result<usize, LedgerError> {
    let stale = super::store::interrupted(&app.db, stale_after(app).as_millis() as i64).await?;
    let backend = app.db.backend;
    let mut recovered = 0;
    for (id, hold) in stale {
        let done = transaction!(app.db, |c| async {
            let marked = sqlx::query(
                "UPDATE executions SET status = 'failed', error_code = 'interrupted', \
                 error_message = 'the host stopped during the run; the budget was released', \
                 refunded_cents = budget_cents, finished_at = $1 WHERE id = $2 AND status = 'running'",
            )
            .bind(now_ms())
            .bind(&id)
            .execute(&mut *c)
            .await?
            .rows_affected()
                == 1;
            if marked {
                if let Some(hold) = &hold {
                    ledger::release_in(c, backend, hold).await?;
                }
            }
            Ok::<_, LedgerError>(marked)
        })?;
        recovered += usize::from(done);
    }
    if recovered > 0 {
        tracing::warn!(recovered, "released the budgets of interrupted executions");
    }
    Ok(recovered)
}
