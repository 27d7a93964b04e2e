//! The ledger's holds, captures, releases and transfers, driven directly against the real
//! database (the holds API is internal until the marketplace pays through it).

use std::sync::Arc;

use agora::db::Db;
use agora::wallet::check;
use agora::wallet::ledger::{self, DepositSource, Ledger, LedgerError, Payee, Rates};
use rand::{Rng, SeedableRng};

struct Fixture {
    ledger: Ledger,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = agora_e2e::fresh_database_url(dir.path()).await;
    let db = Db::connect(&url, 20).await.unwrap();
    db.migrate().await.unwrap();
    Fixture { ledger: Ledger { db, rates: RATES }, _dir: dir }
}

/// Creates agents directly in the store, each with `credits` of sign-up credit.
const RATES: Rates = Rates { fee_bps: 1000, referral_bps: 500 };

async fn agents(l: &Ledger, n: usize, credits: i64) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = agora::db::new_id();
        let (id, name) = (&id, &format!("agent-{i}-{}", &id[id.len() - 12..]));
        agora::transaction!(l.db, |c| async move {
            agora::db::query(
                "INSERT INTO agents (id, name, slug, referral_code, created_at, updated_at) VALUES ($1, $2, $2, $1, 0, 0)",
            )
            .bind(id)
            .bind(name)
            .execute(&mut *c)
            .await?;
            ledger::open_wallet_in(c, id, credits).await
        })
        .unwrap();
        ids.push(id.clone());
    }
    ids
}

async fn assert_sound(l: &Ledger) -> check::LedgerReport {
    let report = check::check(&l.db).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.total_cents, 0);
    report
}

#[tokio::test]
async fn capture_pays_the_worker_less_the_fee_and_refunds_the_rest() {
    let f = fixture().await;
    let l = &f.ledger;
    let ids = agents(l, 2, 0).await;
    let (buyer, worker) = (&ids[0], &ids[1]);
    l.deposit(buyer, 10_000, DepositSource::Funded, "test").await.unwrap();
    let hold = l.hold(buyer, 2_500, "job").await.unwrap();
    assert_eq!(l.balance(buyer).await.unwrap().balance_cents, 7_500);
    let report = assert_sound(l).await;
    assert_eq!(report.escrow_cents, 2_500);

    let s = l.capture(&hold.id, Payee::new(worker, None), 2_000).await.unwrap();
    assert_eq!((s.paid_to_payee, s.fee, s.refunded), (1_800, 200, 500));
    assert_eq!(l.balance(buyer).await.unwrap().balance_cents, 8_000);
    assert_eq!(l.balance(worker).await.unwrap().balance_cents, 1_800);
    assert_eq!(l.balance(worker).await.unwrap().withdrawable_cents, 1_800, "earnings are withdrawable");
    // A settled hold cannot be settled again.
    assert!(matches!(l.capture(&hold.id, Payee::new(worker, None), 1).await, Err(LedgerError::HoldSettled(_))));
    assert!(matches!(l.release(&hold.id).await, Err(LedgerError::HoldSettled(_))));
    let report = assert_sound(l).await;
    assert_eq!(report.escrow_cents, 0);

    // Fees round down, never up.
    let h = l.hold(buyer, 19, "small").await.unwrap();
    let s = l.capture(&h.id, Payee::new(worker, None), 19).await.unwrap();
    assert_eq!((s.paid_to_payee, s.fee), (18, 1));
    let h = l.hold(buyer, 9, "tiny").await.unwrap();
    assert_eq!(l.capture(&h.id, Payee::new(worker, None), 9).await.unwrap().fee, 0);
    assert!(matches!(l.capture("no-such-hold", Payee::new(worker, None), 1).await, Err(LedgerError::UnknownHold(_))));
    let h = l.hold(buyer, 10, "over").await.unwrap();
    assert!(matches!(l.capture(&h.id, Payee::new(worker, None), 11).await, Err(LedgerError::CaptureTooLarge(11, 10))));
    assert_sound(l).await;

    // A referrer's share (5% of the gross) comes out of the fee (10%): the payee gets the same.
    let referrer = &agents(l, 1, 0).await[0];
    let revenue = l.system_balance(ledger::REVENUE).await.unwrap();
    let h = l.hold(buyer, 2_000, "referred").await.unwrap();
    let s = l.capture(&h.id, Payee::new(worker, Some(referrer)), 2_000).await.unwrap();
    assert_eq!((s.paid_to_payee, s.fee, s.referral), (1_800, 200, 100));
    assert_eq!(l.balance(referrer).await.unwrap().balance_cents, 100);
    assert_eq!(l.system_balance(ledger::REVENUE).await.unwrap() - revenue, 100);
    // Never more than the fee, and never to the payee itself.
    let greedy = Ledger { db: l.db.clone(), rates: Rates { fee_bps: 1000, referral_bps: 2000 } };
    let h = greedy.hold(buyer, 1_000, "greedy").await.unwrap();
    assert_eq!(greedy.capture(&h.id, Payee::new(worker, Some(referrer)), 1_000).await.unwrap().referral, 100);
    let h = l.hold(buyer, 1_000, "self").await.unwrap();
    assert_eq!(l.capture(&h.id, Payee::new(worker, Some(worker)), 1_000).await.unwrap().referral, 0);
    assert_sound(l).await;
}

#[tokio::test]
async fn holds_refuse_overdrafts_and_releases_return_sign_up_credit() {
    let f = fixture().await;
    let l = &f.ledger;
    let ids = agents(l, 2, 100).await;
    let (a, b) = (&ids[0], &ids[1]);
    assert!(matches!(l.hold(a, 101, "too much").await, Err(LedgerError::InsufficientFunds)));
    assert!(matches!(l.hold(a, 0, "zero").await, Err(LedgerError::InvalidAmount)));
    assert!(matches!(l.hold(a, -5, "negative").await, Err(LedgerError::InvalidAmount)));
    assert!(matches!(l.transfer(a, b, 101, "x").await, Err(LedgerError::InsufficientFunds)));
    assert!(matches!(l.transfer(a, a, 1, "self").await, Err(LedgerError::SameAccount)));

    // Hold-and-release must not launder sign-up credit into withdrawable cash.
    let h = l.hold(a, 100, "job").await.unwrap();
    l.release(&h.id).await.unwrap();
    let bal = l.balance(a).await.unwrap();
    assert_eq!((bal.balance_cents, bal.promo_cents, bal.withdrawable_cents), (100, 100, 0));

    // Spending uses sign-up credit first; a partial capture refunds the rest as cash first.
    l.deposit(a, 50, DepositSource::Funded, "cash").await.unwrap();
    let h = l.hold(a, 120, "job").await.unwrap();
    l.capture(&h.id, Payee::new(b, None), 60).await.unwrap();
    let bal = l.balance(a).await.unwrap();
    assert_eq!(bal.balance_cents, 90);
    assert_eq!(bal.promo_cents, 40, "60 of the 100 credits were spent");
    assert_eq!(bal.withdrawable_cents, 50);
    assert_sound(l).await;
}

#[tokio::test]
async fn concurrent_holds_captures_releases_and_transfers_keep_the_books() {
    let f = fixture().await;
    let l = Arc::new(f.ledger.clone());
    let ids = Arc::new(agents(&l, 10, 100).await);
    for id in ids.iter() {
        l.deposit(id, 5_000, DepositSource::Funded, "seed").await.unwrap();
    }
    let start_total: i64 = 10 * 5_100;

    let mut tasks = Vec::new();
    for worker in 0..40u64 {
        let (l, ids) = (l.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(worker);
            let mut done = 0;
            for _ in 0..8 {
                let a = &ids[rng.gen_range(0..ids.len())];
                let b = &ids[rng.gen_range(0..ids.len())];
                let amount = rng.gen_range(1..1_500);
                let outcome = match rng.gen_range(0..4) {
                    0 => l.transfer(a, b, amount, "p2p").await.map(|_| ()),
                    1 => match l.hold(a, amount, "job").await {
                        Ok(h) => l.release(&h.id).await.map(|_| ()),
                        Err(e) => Err(e),
                    },
                    _ => match l.hold(a, amount, "job").await {
                        Ok(h) => l.capture(&h.id, Payee::new(b, None), rng.gen_range(0..=amount)).await.map(|_| ()),
                        Err(e) => Err(e),
                    },
                };
                match outcome {
                    Ok(()) | Err(LedgerError::InsufficientFunds) => done += 1,
                    Err(LedgerError::SameAccount) if a == b => done += 1,
                    Err(e) => panic!("unexpected ledger error: {e}"),
                }
            }
            done
        }));
    }
    let mut ops = 0;
    for t in tasks {
        ops += t.await.unwrap();
    }
    assert_eq!(ops, 320, "every operation either happened or was refused for funds");

    let report = assert_sound(&l).await;
    assert_eq!(report.escrow_cents, 0, "every hold was settled");
    let mut wallets = 0;
    for id in ids.iter() {
        let b = l.balance(id).await.unwrap();
        assert!(b.balance_cents >= 0 && b.promo_cents >= 0 && b.promo_cents <= b.balance_cents, "{b:?}");
        wallets += b.balance_cents;
    }
    let revenue = l.system_balance("platform:revenue").await.unwrap();
    assert_eq!(wallets + revenue, start_total, "money only moved between wallets and the platform fee");
    assert_eq!(report.wallets_cents, wallets);
}

/// Agents' own deposits made before the hardening came from `world:external` and counted as
/// cash; migration 0004 turns them into credit from `world:unfunded`, and leaves operators'
/// deposits alone.
#[tokio::test]
async fn old_self_deposits_become_credit_when_the_schema_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let url = agora_e2e::fresh_database_url(dir.path()).await;
    let db = Db::connect(&url, 2).await.unwrap();
    let dialect = if db.backend == agora::db::Backend::Sqlite { "sqlite" } else { "postgres" };
    let before = dir.path().join("before-0004");
    std::fs::create_dir(&before).unwrap();
    for entry in std::fs::read_dir(agora_testkit::repo_root().join("migrations").join(dialect)).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().as_ref() < "0004" {
            std::fs::copy(&path, before.join(path.file_name().unwrap())).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(before.as_path()).await.unwrap().run(&db.direct).await.unwrap();

    let id = agents(&Ledger { db: db.clone(), rates: RATES }, 1, 0).await.remove(0);
    let wallet = ledger::wallet_account(&id);
    for (n, (amount, description)) in [(500i64, "Deposit"), (300, "Deposit by operator")].into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO transfers (id, debit_account, credit_account, amount, kind, description, \
             debit_balance_after, credit_balance_after, created_at) VALUES ($1, 'world:external', $2, $3, 'DEPOSIT', $4, 0, 0, 0)",
        )
        .bind(format!("legacy-{n}"))
        .bind(&wallet)
        .bind(amount)
        .bind(description)
        .execute(&db.direct)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE accounts SET balance = 800 WHERE id = $1").bind(&wallet).execute(&db.direct).await.unwrap();
    sqlx::query("UPDATE accounts SET balance = -800 WHERE id = 'world:external'").execute(&db.direct).await.unwrap();

    db.migrate().await.unwrap();
    let l = Ledger { db, rates: RATES };
    let b = l.balance(&id).await.unwrap();
    assert_eq!((b.balance_cents, b.promo_cents, b.withdrawable_cents), (800, 500, 300));
    assert_eq!(l.system_balance("world:external").await.unwrap(), -300);
    assert_eq!(l.system_balance("world:unfunded").await.unwrap(), -500);
    let report = check::check(&l.db).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.funded_in_cents, 300);
}
