-- Budgets idle for a day are removed by the workers' periodic clean-up, not at a new budget's
-- first turn, which would scan the whole table for every new connection. See
-- src/core/rate-budget.ts and decision 0023.

-- Budgets of accounts and connections that sent nothing for a day (deleted ones among them): a
-- budget idle that long holds nothing a new row would not. Answers how many went.
create function trellis.remove_idle_rate_budgets() returns integer language sql as $$
  with removed as (
    delete from trellis.rate_budgets r
     where coalesce(r.reserved[array_upper(r.reserved, 1)], 0) < trellis.epoch_ms() - 86400000
       and r.paused_until < trellis.epoch_ms()
    returning 1)
  select count(*)::integer from removed
$$;
