-- Money at database speed: the platform's own accounts keep no stored balance. Theirs is the
-- sum of their transfers; a stored one was a row every operation updated, which serialised
-- all writers.

UPDATE accounts SET balance = 0, promo_balance = 0
WHERE id IN ('world:external', 'world:unfunded', 'platform:promotions', 'platform:revenue', 'platform:payouts');

-- Agents' own deposits from before the hardening came from world:external (described
-- 'Deposit'; operators' deposits say 'Deposit by operator') and so counted as withdrawable
-- cash. They had no payment behind them: they become credit from world:unfunded, and the
-- wallets that received them hold that much more credit (at most their balance; what was
-- already withdrawn shows in the ledger check). (Transfers are immutable; the trigger steps
-- aside for this correction only.)
UPDATE accounts SET promo_balance = LEAST(balance, promo_balance + (
    SELECT COALESCE(SUM(t.amount), 0) FROM transfers t
    WHERE t.credit_account = accounts.id AND t.kind = 'DEPOSIT' AND t.debit_account = 'world:external'
      AND t.description = 'Deposit'))
WHERE kind = 'wallet' AND id IN (
    SELECT credit_account FROM transfers
    WHERE kind = 'DEPOSIT' AND debit_account = 'world:external' AND description = 'Deposit');
ALTER TABLE transfers DISABLE TRIGGER transfers_no_change;
UPDATE transfers SET debit_account = 'world:unfunded', promo_amount = amount
WHERE kind = 'DEPOSIT' AND debit_account = 'world:external' AND description = 'Deposit';
ALTER TABLE transfers ENABLE TRIGGER transfers_no_change;
