-- A sync made due now (created, resumed, triggered, or asked for again while it ran) wakes the
-- workers' schedulers, which LISTEN on this channel, instead of waiting for their next look.
-- Postgres delivers the notice when the transaction commits, once however many rows it changed.
create function trellis.notify_syncs_due() returns trigger language plpgsql as $$
begin
  perform pg_notify('trellis_syncs_due', '');
  return null;
end
$$;
create trigger syncs_due_notify after insert or update of next_run_at on trellis.syncs
  for each row when (not new.paused and new.next_run_at <= now())
  execute function trellis.notify_syncs_due();

-- Syncs a worker holds: claimed (next_run_at cleared while not paused) or running (a checkpoint).
-- The scheduler counts them per connection against the connection's run limit, and looks among
-- them for those whose worker stopped reporting; either way it reads only these few rows.
drop index trellis.syncs_running;
create index syncs_held on trellis.syncs (connection_id)
  where state ? 'checkpoint' or (next_run_at is null and not paused);
