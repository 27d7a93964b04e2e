-- One deposit as Agora writes it, in a transaction of its own: the wallet's conditional
-- update and the transfer row (the agent's row is read first, outside the transaction).
\set a random(1, 32)
SELECT id, name, status FROM agents WHERE id = 'floor-' || CAST(:a AS text);
BEGIN;
UPDATE accounts SET balance = balance + 100, promo_balance = promo_balance + 100
  WHERE id = E'wallet\x3afloor-' || CAST(:a AS text) AND promo_balance + 100 >= 0
  AND (allow_negative = 1 OR (balance + 100 >= 0 AND promo_balance + 100 <= balance + 100))
  RETURNING balance;
INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description,
  ref_id, debit_balance_after, credit_balance_after, created_at)
  VALUES (gen_random_uuid()::text, E'world\x3aunfunded', E'wallet\x3afloor-' || CAST(:a AS text), 100, 100, 'DEPOSIT',
  'Deposit', NULL, 0, 0, 0);
END;
