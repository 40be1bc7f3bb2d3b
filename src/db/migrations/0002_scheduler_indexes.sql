-- The scheduler looks for due syncs and for runs whose worker stopped reporting several times a
-- second; both lookups must stay cheap with many syncs.
create index syncs_due on trellis.syncs (next_run_at) where not paused and next_run_at is not null;
create index syncs_running on trellis.syncs (((state->>'heartbeat')::text)) where state ? 'checkpoint';
