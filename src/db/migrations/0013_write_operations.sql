-- A write operation is one request to create, update or delete records of one object through an
-- installation (the Ampersand Write API): its counts and outcome, kept so that operations can be
-- listed and looked up later. Records waiting for an asynchronous write are kept until it ends,
-- and no longer.
create table trellis.write_operations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references trellis.projects on delete cascade,
  installation_id uuid not null references trellis.installations on delete cascade,
  object text not null,
  type text not null check (type in ('create', 'update', 'delete')),
  asynchronous boolean not null,
  status text not null check (status in ('queued', 'running', 'succeeded', 'failed')),
  record_count integer not null check (record_count > 0),
  success_count integer not null default 0,
  failure_count integer not null default 0,
  error_summary text,
  -- Per record: success, the provider's id, why it failed (never the records' data).
  results jsonb,
  pending_records jsonb,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  ended_at timestamptz
);
create index write_operations_installation on trellis.write_operations (installation_id, created_at desc, id);
create index write_operations_project on trellis.write_operations (project_id, created_at desc, id);
