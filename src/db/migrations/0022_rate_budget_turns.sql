-- A request budget's turn costs a lookup and an update of its row, whatever the window holds: the
-- log keeps at most the last max_requests reservations of the window, in order (turns are granted
-- first come, first served, so each is appended), and a new turn needs only the one max_requests
-- back. A caller may also ask for spare turns (see the Reserver). Budgets are reserved one at a
-- time (a connection's own ceiling before its account's), and a lost reservation harms nothing,
-- so the statement does not wait for its commit to be flushed.
-- See src/core/rate-budget.ts and decision 0023.
drop function trellis.reserve_rate_budget(text[], integer[], integer[], bigint[]);

create function trellis.reserve_rate_budget(
  p_key text,
  p_requests integer,
  p_window integer,
  p_max_waits bigint[]
) returns table (wait_ms bigint, granted boolean, slack_ms bigint)
  language plpgsql set synchronous_commit = off as $$
declare
  now_ms bigint := trellis.epoch_ms();
  b trellis.rate_budgets;
  lim integer;
  win integer;
  margin bigint;
  span bigint;
  log bigint[];
  n integer;
  at bigint;
  max_wait bigint;
begin
  select * into b from trellis.rate_budgets where key = p_key for update;
  if not found then
    insert into trellis.rate_budgets (key, max_requests, window_ms) values (p_key, p_requests, p_window)
      on conflict (key) do nothing;
    select * into b from trellis.rate_budgets where key = p_key for update;
  end if;
  -- The caller's limit holds until the provider states its own.
  lim := case when b.from_provider then b.max_requests else p_requests end;
  win := case when b.from_provider then b.window_ms else p_window end;
  margin := trellis.rate_budget_margin(win, b.margin_fades_at, now_ms);
  span := win + margin;
  slack_ms := margin / 2;
  -- Reservations a span before now can no longer share a span with a new one (width_bucket counts,
  -- by binary search, those at or before that instant).
  log := b.reserved;
  n := coalesce(array_length(log, 1), 0);
  if n > 0 then
    log := log[width_bucket(now_ms - span, log) + 1 : n];
    n := coalesce(array_length(log, 1), 0);
  end if;
  foreach max_wait in array p_max_waits loop
    at := greatest(now_ms, b.paused_until, coalesce(log[n], 0));
    if n >= lim then
      at := greatest(at, log[n - lim + 1] + span);
    end if;
    wait_ms := at - now_ms;
    -- A spare turn (asked for with a negative wait) only at once, and only while the window is less
    -- than half full: a process that asks faster than the slack takes a few ahead.
    granted := case when max_wait < 0 then wait_ms = 0 and 2 * (n + 1) <= lim else wait_ms <= max_wait end;
    if granted then
      log := log || at;
      n := n + 1;
    end if;
    return next;
  end loop;
  if n > lim then
    log := log[n - lim + 1 : n];
  end if;
  update trellis.rate_budgets
     set reserved = log,
         max_requests = lim,
         window_ms = win
   where key = p_key;
end $$;
