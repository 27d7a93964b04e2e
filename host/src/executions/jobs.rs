//! Background work of the executions: refunding runs their host died in, and pruning old
//! records. Both are recurring scheduler jobs.

use std::time::Duration;

use super::store;
use crate::db::now_ms;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError};

pub const RECOVER_INTERRUPTED: KindSpec = KindSpec::every("executions.recover_interrupted", Duration::from_secs(60));
pub const PRUNE_RECORDS: KindSpec = KindSpec::every("executions.prune_records", Duration::from_secs(600));

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(RECOVER_INTERRUPTED, |app, _| async move {
        recover_interrupted(&app).await.map(drop).map_err(|e| e.to_string())
    });
    jobs.add(PRUNE_RECORDS, |app, _| async move { prune_records(&app).await.map(drop).map_err(|e| e.to_string()) });
}

pub fn stale_after(app: &App) -> Duration {
    let e = &app.config.execution;
    // No request lives longer than the request timeout, whatever it waits on (a compile, a
    // name lookup): a run older than that and the run limits has no request left to settle it.
    let longest = e.exec_timeout_ms.max(e.endpoint_timeout_ms).max(app.config.server.request_timeout_ms);
    Duration::from_millis(longest) + Duration::from_secs(120)
}

/// Executions whose host died mid-run stay running with the buyer's budget in escrow. Once
/// they are older than any run could last, the budget is released and they are marked
/// failed. Returns how many were recovered.
pub async fn recover_interrupted(app: &App) -> Result<usize, LedgerError> {
    let stale = store::interrupted(&app.db, stale_after(app).as_millis() as i64).await?;
    let mut recovered = 0;
    for (id, hold) in stale {
        let done = transaction!(app.db, |c| async {
            let marked = store::mark_interrupted(c, &id).await?;
            if marked {
                if let Some(hold) = &hold {
                    ledger::release_in(c, hold).await?;
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

/// Deletes the records of executions that finished more than the retention period ago.
pub async fn prune_records(app: &App) -> Result<u64, sqlx::Error> {
    let keep_ms = app.config.execution.execution_retention_days as i64 * 24 * 3600 * 1000;
    let pruned = store::delete_finished_before(&app.db, now_ms() - keep_ms).await?;
    if pruned > 0 {
        tracing::info!(pruned, "pruned old execution records");
    }
    Ok(pruned)
}
