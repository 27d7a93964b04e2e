//! `agora-bench hops`: what one statement costs the writer, with and without the round trip
//! between the caller's task and the database driver.
//!
//! On a database opened exactly as the server opens it (`Db::connect`):
//! - `N` single-row `UPDATE`s in one unit of the group commit, as the domain code runs them
//!   (`writer_update_us`: on SQLite stepped on the calling thread, on PostgreSQL a round trip);
//!
//! and, inside one transaction of sqlx's driver (`Db::direct`):
//! - the same `N` `UPDATE`s sent one after another, each awaited (a round trip per statement,
//!   which on SQLite is a hand-off to the driver's thread and back);
//! - the same `N` `UPDATE`s sent as one multi-statement string, executed back to back by the
//!   driver without returning to the caller (SQLite's own cost per statement);
//! - `N` `SELECT 1` round trips (the trip alone, no table).
//!
//! A unit of group commit holds the writer for its statements one after another, so
//! `1 / (statements per unit × µs per round trip)` bounds the units the writer can take per
//! second, whatever the batch size.

use std::time::Instant;

use agora::db::Db;
use serde_json::{json, Value};

const ROWS: i64 = 64;

pub async fn measure(url: &str, statements: usize) -> anyhow::Result<Value> {
    let db = Db::connect(url, 4).await?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS bench_hops (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
        .execute(&db.direct)
        .await?;
    sqlx::raw_sql("DELETE FROM bench_hops").execute(&db.direct).await?;
    for id in 0..ROWS {
        sqlx::query("INSERT INTO bench_hops (id, v) VALUES ($1, 0)").bind(id).execute(&db.direct).await?;
    }

    let update = "UPDATE bench_hops SET v = v + 1 WHERE id = $1";
    let writer_update_us = agora::transaction!(db, |c| async move {
        for i in 0..200 {
            agora::db::query(update).bind(i as i64 % ROWS).execute(&mut *c).await?;
        }
        let started = Instant::now();
        for i in 0..statements {
            agora::db::query(update).bind(i as i64 % ROWS).execute(&mut *c).await?;
        }
        Ok::<_, sqlx::Error>(started.elapsed().as_secs_f64() * 1e6 / statements as f64)
    })?;

    let mut tx = db.direct.begin().await?;
    // Warm the prepared-statement cache and the pages.
    for i in 0..200 {
        sqlx::query("UPDATE bench_hops SET v = v + 1 WHERE id = $1").bind(i as i64 % ROWS).execute(&mut *tx).await?;
    }

    let started = Instant::now();
    for i in 0..statements {
        sqlx::query("UPDATE bench_hops SET v = v + 1 WHERE id = $1").bind(i as i64 % ROWS).execute(&mut *tx).await?;
    }
    let one_by_one = started.elapsed().as_secs_f64() * 1e6 / statements as f64;

    let script: String =
        (0..statements).map(|i| format!("UPDATE bench_hops SET v = v + 1 WHERE id = {};", i as i64 % ROWS)).collect();
    let started = Instant::now();
    sqlx::raw_sql(&script).execute(&mut *tx).await?;
    let in_driver = started.elapsed().as_secs_f64() * 1e6 / statements as f64;

    let started = Instant::now();
    for _ in 0..statements {
        sqlx::query("SELECT 1").fetch_one(&mut *tx).await?;
    }
    let trip = started.elapsed().as_secs_f64() * 1e6 / statements as f64;
    tx.rollback().await?;
    db.close().await;

    let bound = |per_unit: f64| (1e6 / (per_unit * writer_update_us)).round();
    Ok(json!({
        "statements": statements,
        "writer_update_us": writer_update_us,
        "update_round_trip_us": one_by_one,
        "update_in_driver_us": in_driver,
        "select_1_round_trip_us": trip,
        // Statements a unit holds the writer for (see docs/benchmarks.md): a deposit's
        // SAVEPOINT, wallet UPDATE, transfer INSERT and RELEASE; an execution's two units.
        "deposit_units_per_second_bound": bound(4.0),
        "execute_per_second_bound": bound(19.0),
    }))
}
