-- Request budgets shared by every Trellis process: one per lane of a provider account (and one per
-- connection whose project chose a pace for it). A request reserves the earliest instant at which
-- a sliding window holds fewer than max_requests reservations, then waits for it; see
-- src/core/rate-budget.ts and decision 0023.
create table trellis.rate_budgets (
  key text primary key,
  max_requests integer not null check (max_requests > 0),
  window_ms integer not null check (window_ms > 0),
  -- Whether the provider's own headers set max_requests and window_ms: they then stay, whatever
  -- the catalog says.
  from_provider boolean not null default false,
  -- Instants (ms since the epoch, by this server's clock) of the reservations that can still count
  -- against a new one, ascending; those ahead of now belong to requests waiting for their turn.
  reserved bigint[] not null default '{}',
  -- No reservation before this instant (ms since the epoch): the provider asked for a pause.
  paused_until bigint not null default 0,
  -- When the margin the provider's 429s added has faded (see rate_budget_margin).
  margin_fades_at bigint not null default 0
);

-- The budget of a lane of the provider account a connection talks to: the account its instance URL
-- names (a HubSpot portal, a Salesforce org, a Pipedrive company), else the connection's own. Per
-- project, as an instance URL can be typed in: no project spends another's budget. Read at each
-- use, so that a connection that learns its account on its first token refresh moves to its
-- account's budget at once.
create function trellis.account_rate_budget(p_connection uuid, p_lane text) returns text
  language sql stable as $$
  select coalesce(
    (select c.project_id || '/' || c.provider_name || '/'
              || coalesce(nullif(c.instance_url, ''), 'connection/' || c.id) || '/' || p_lane
       from trellis.connections c where c.id = p_connection),
    'connection/' || p_connection || '/' || p_lane)
$$;

-- Milliseconds since the epoch, now (not at the transaction's start).
create function trellis.epoch_ms() returns bigint
  language sql volatile as $$ select floor(extract(epoch from clock_timestamp()) * 1000)::bigint $$;

-- How much longer than the provider's window a budget's is kept, at now_ms: a request reaches the
-- provider a variable moment after its reserved instant, and a provider's fixed window starts with
-- whichever request reaches it first. 5 % of the window (25 to 250 ms), plus what the provider's
-- 429s taught (see pause_rate_budget): a millisecond for each second left until margin_fades_at.
create function trellis.rate_budget_margin(window_ms integer, margin_fades_at bigint, now_ms bigint)
  returns bigint language sql immutable as $$
  select least(250, greatest(25, window_ms / 20))::bigint + greatest(0, margin_fades_at - now_ms) / 1000
$$;

-- The provider answered a request of the budget with a 429: no reservation for the next p_ms. As
-- the budget had room for the request, the provider's window started later than the budget's (its
-- first request arrived late): the margin widens by its usual size, up to a fifth of the window,
-- and fades again by a millisecond a second.
create function trellis.pause_rate_budget(p_key text, p_ms bigint) returns void language sql as $$
  update trellis.rate_budgets r
     set paused_until = greatest(r.paused_until, trellis.epoch_ms() + p_ms),
         margin_fades_at = trellis.epoch_ms() + 1000 * least(
           r.window_ms / 5,
           greatest(0, r.margin_fades_at - trellis.epoch_ms()) / 1000 + least(250, greatest(25, r.window_ms / 20)))
   where r.key = p_key
$$;

-- Reserves for each of a batch of requests, in order, the earliest instant, not before now nor
-- before a pause, at which every named budget (created with the given limit, which also applies
-- while the provider has stated none) has room: no span of its window would hold more than
-- max_requests reservations, counting those ahead of the instant too. Answers each request's wait
-- until its instant, and how late it may leave (half the smallest margin of the spans); reserves
-- nothing for a request whose wait would be longer than its p_max_waits. The rows are locked in
-- key order for the statement, so that concurrent callers are served one after the other, in order.
create function trellis.reserve_rate_budget(
  p_keys text[],
  p_requests integer[],
  p_windows integer[],
  p_max_waits bigint[]
) returns table (wait_ms bigint, granted boolean, slack_ms bigint) language plpgsql as $$
declare
  now_ms bigint := trellis.epoch_ms();
  at bigint;
  max_wait bigint;
  b record;
  moved boolean;
  j integer;
begin
  insert into trellis.rate_budgets (key, max_requests, window_ms)
    select k.key, p_requests[k.i], p_windows[k.i]
      from unnest(p_keys) with ordinality as k(key, i) order by k.key
    on conflict (key) do nothing;
  perform 1 from trellis.rate_budgets where key = any(p_keys) order by key for update;
  -- The caller's limits hold until the provider states its own; reservations a span before now can
  -- no longer share a span with any new one.
  update trellis.rate_budgets r
     set max_requests = case when r.from_provider then r.max_requests else p_requests[k.i] end,
         window_ms = case when r.from_provider then r.window_ms else p_windows[k.i] end,
         reserved = array(select x from unnest(r.reserved) as x
                           where x > now_ms - r.window_ms - trellis.rate_budget_margin(r.window_ms, r.margin_fades_at, now_ms)
                           order by x)
    from unnest(p_keys) with ordinality as k(key, i)
   where r.key = k.key;
  select min(trellis.rate_budget_margin(r.window_ms, r.margin_fades_at, now_ms)) / 2 into slack_ms
    from trellis.rate_budgets r where r.key = any(p_keys);
  foreach max_wait in array p_max_waits loop
    at := now_ms;
    loop
      moved := false;
      for b in
        select max_requests as lim, reserved, paused_until,
               window_ms + trellis.rate_budget_margin(window_ms, margin_fades_at, now_ms) as span
          from trellis.rate_budgets where key = any(p_keys)
      loop
        if b.paused_until > at then
          at := b.paused_until;
          moved := true;
        end if;
        -- Each run of lim consecutive reservations and the new one must not fit in one span.
        for j in 1 .. coalesce(array_length(b.reserved, 1), 0) - b.lim + 1 loop
          if greatest(b.reserved[j + b.lim - 1], at) - least(b.reserved[j], at) < b.span then
            at := b.reserved[j] + b.span;
            moved := true;
          end if;
        end loop;
      end loop;
      exit when not moved;
    end loop;
    wait_ms := at - now_ms;
    granted := wait_ms <= max_wait;
    if granted then
      update trellis.rate_budgets r set reserved = array(select x from unnest(r.reserved || at) as x order by x)
       where r.key = any(p_keys);
    end if;
    return next;
  end loop;
end $$;
