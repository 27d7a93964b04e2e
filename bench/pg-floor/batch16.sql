-- 16 deposits in one transaction, each in its own savepoint (Agora's group commit); each client its own wallets.
BEGIN;
\set a0 :client_id * 16 + 1
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a0 AS text);
SAVEPOINT unit_0;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a0 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a0 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a1 :client_id * 16 + 2
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a1 AS text);
SAVEPOINT unit_1;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a1 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a1 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a2 :client_id * 16 + 3
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a2 AS text);
SAVEPOINT unit_2;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a2 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a2 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a3 :client_id * 16 + 4
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a3 AS text);
SAVEPOINT unit_3;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a3 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a3 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a4 :client_id * 16 + 5
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a4 AS text);
SAVEPOINT unit_4;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a4 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a4 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a5 :client_id * 16 + 6
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a5 AS text);
SAVEPOINT unit_5;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a5 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a5 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a6 :client_id * 16 + 7
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a6 AS text);
SAVEPOINT unit_6;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a6 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a6 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a7 :client_id * 16 + 8
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a7 AS text);
SAVEPOINT unit_7;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a7 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a7 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a8 :client_id * 16 + 9
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a8 AS text);
SAVEPOINT unit_8;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a8 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a8 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a9 :client_id * 16 + 10
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a9 AS text);
SAVEPOINT unit_9;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a9 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a9 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a10 :client_id * 16 + 11
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a10 AS text);
SAVEPOINT unit_10;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a10 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a10 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a11 :client_id * 16 + 12
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a11 AS text);
SAVEPOINT unit_11;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a11 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a11 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a12 :client_id * 16 + 13
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a12 AS text);
SAVEPOINT unit_12;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a12 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a12 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a13 :client_id * 16 + 14
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a13 AS text);
SAVEPOINT unit_13;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a13 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a13 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a14 :client_id * 16 + 15
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a14 AS text);
SAVEPOINT unit_14;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a14 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a14 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
\set a15 :client_id * 16 + 16
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a15 AS text);
SAVEPOINT unit_15;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100 WHERE id = E'wallet\x3afloor-' || CAST(:a15 AS text) AND promo_balance + 100 >= 0 AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100)) RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, ref_id, debit_balance_after, credit_balance_after, created_at) VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a15 AS text), 100, 100, 'DEPOSIT', 'Deposit', NULL, 0, 0, 0);
END;
