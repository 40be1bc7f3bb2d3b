-- The control plane: every row belongs to one project (tenant). Secrets are stored sealed by the
-- vault (text columns named *_sealed); nothing here holds a plaintext secret.
create schema if not exists trellis;
set local search_path = trellis;

create table projects (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  created_at timestamptz not null default now()
);

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  name text not null,
  key_hash text not null unique,
  key_hint text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_project on api_keys (project_id);

create table settings (
  key text primary key,
  value text not null
);

create table customers (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  external_id text not null,
  name text not null,
  email text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, external_id)
);

create table destinations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  name text not null,
  type text not null,
  config jsonb not null default '{}',
  secrets_sealed text,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, name)
);

create table provider_apps (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  provider_name text not null,
  category text not null,
  auth_type text not null,
  client_id text,
  client_secret_sealed text,
  scopes text[] not null default '{}',
  external_ref text,
  use_managed_oauth boolean not null default false,
  objects jsonb not null default '{}',
  entity_mappings jsonb not null default '[]',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, provider_name)
);

create table schemas (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  name text not null,
  config jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, name)
);

create table entities (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  name text not null,
  config jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, name)
);

-- An integration says what to sync for one provider app and where to (Supaglue: sync config).
create table integrations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  provider_app_id uuid not null references provider_apps on delete restrict,
  destination_id uuid not null references destinations on delete restrict,
  config jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider_app_id)
);

create table connections (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  customer_id uuid not null references customers on delete cascade,
  provider_app_id uuid not null references provider_apps on delete restrict,
  provider_name text not null,
  category text not null,
  status text not null default 'created',
  auth_type text not null,
  credentials_sealed text not null,
  instance_url text not null default '',
  field_mappings jsonb not null default '{}',
  entity_mappings jsonb not null default '[]',
  sync_overrides jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (customer_id, provider_name)
);
create index connections_project on connections (project_id);

create table magic_links (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  customer_id uuid not null references customers on delete cascade,
  provider_app_id uuid not null references provider_apps on delete cascade,
  return_url text not null,
  expires_at timestamptz not null,
  status text not null default 'new',
  created_at timestamptz not null default now(),
  consumed_at timestamptz
);
create index magic_links_project on magic_links (project_id);

-- One sync per object of an integration on a connection; `state` is the engine's checkpoint.
create table syncs (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  connection_id uuid not null references connections on delete cascade,
  integration_id uuid not null references integrations on delete cascade,
  object_type text not null,
  object text not null,
  paused boolean not null default false,
  state jsonb not null default '{}',
  next_run_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (connection_id, object_type, object)
);
create index syncs_project on syncs (project_id, created_at, id);

create table sync_runs (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  sync_id uuid not null references syncs on delete cascade,
  status text not null,
  error_message text,
  num_records_synced bigint,
  started_at timestamptz not null default now(),
  ended_at timestamptz
);
create index sync_runs_project on sync_runs (project_id, started_at desc, id desc);
create index sync_runs_sync on sync_runs (sync_id, started_at desc);

create table webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  url text not null,
  secret_sealed text not null,
  event_types text[] not null,
  enabled boolean not null default true,
  created_at timestamptz not null default now()
);
create index webhook_endpoints_project on webhook_endpoints (project_id);

create table webhook_events (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
create index webhook_events_project on webhook_events (project_id, created_at desc);

-- Every delivery attempt of an event to an endpoint, successful or not.
create table webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  event_id uuid not null references webhook_events on delete cascade,
  endpoint_id uuid not null references webhook_endpoints on delete cascade,
  attempt integer not null,
  succeeded boolean not null,
  response_status integer,
  error text,
  duration_ms integer not null,
  created_at timestamptz not null default now()
);
create index webhook_deliveries_event on webhook_deliveries (event_id, attempt);
