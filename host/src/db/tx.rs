//! The write-transaction helper: commit on `Ok`, retry the whole transaction on a transient
//! error (deadlock, serialization failure, busy database).

/// Errors worth retrying the whole transaction for: PostgreSQL serialization failure, deadlock
/// and lock timeout, SQLite busy/locked (from another process on the same file).
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(e) => {
            matches!(e.code().as_deref(), Some("40001" | "40P01" | "55P03" | "5" | "6" | "517" | "261"))
        }
        _ => false,
    }
}

/// How many times a unit runs at most.
pub const MAX_ATTEMPTS: u32 = 8;

/// Implemented by error types that can carry a transient database error.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for sqlx::Error {
    fn is_transient(&self) -> bool {
        is_transient(self)
    }
}

/// Runs `$body` (an expression using `$conn: &mut db::Conn`, awaited) as one unit of a
/// group commit (`db::group`): its writes are kept if it returns `Ok`, and the value is
/// returned once they are committed. The whole unit runs again, up to `MAX_ATTEMPTS` times, when
/// it could not start, when its batch was certainly not committed, or on a transient error
/// (deadlock, serialization failure, lock timeout, busy database).
#[macro_export]
macro_rules! transaction {
    ($db:expr, |$conn:ident| $body:expr) => {{
        use $crate::db::Transient as _;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let last = attempt >= $crate::db::tx::MAX_ATTEMPTS;
            match $db.group.unit().await {
                // Nothing was written: the unit never started (no connection, a failed savepoint).
                Err(e) if last => break Err(e.into()),
                Err(_) => {}
                Ok(mut unit) => {
                    let result = {
                        let $conn: &mut $crate::db::Conn = unit.conn();
                        $body.await
                    };
                    match result {
                        Ok(value) => match unit.finish().await {
                            Ok(()) => break Ok(value),
                            Err(failed) if failed.retry && !last => {}
                            Err(failed) => break Err(sqlx::Error::from(failed).into()),
                        },
                        Err(e) => {
                            unit.abandon().await;
                            if last || !e.is_transient() {
                                break Err(e);
                            }
                        }
                    }
                }
            }
            $crate::db::tx::backoff(attempt).await;
        }
    }};
}

/// The pause before a unit runs again: 10 ms doubling up to 160 ms.
pub async fn backoff(attempt: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(5u64 << attempt.min(5))).await;
}

/// Implements `Transient` for a domain error through the variants that wrap an error that can
/// be transient (`transient_through!(WalletError: Ledger, Idempotency, Db)`).
#[macro_export]
macro_rules! transient_through {
    ($ty:ty: $($variant:ident),+ $(,)?) => {
        impl $crate::db::Transient for $ty {
            fn is_transient(&self) -> bool {
                match self {
                    $(Self::$variant(e) => $crate::db::Transient::is_transient(e),)+
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }
        }
    };
}
