-- Money at database speed: the platform's own accounts keep no stored balance. Theirs is the
-- sum of their transfers; a stored one was a row every operation updated, which serialised
-- all writers.

UPDATE accounts SET balance = 0, promo_balance = 0
WHERE id IN ('world:external', 'world:unfunded', 'platform:promotions', 'platform:revenue', 'platform:payouts');
