-- Managed auth: single-use OAuth states, token expiry metadata for the keep-alive, and why a sync
-- is paused (so re-authorizing resumes only what bad credentials paused).
create table trellis.oauth_states (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references trellis.projects on delete cascade,
  customer_id uuid not null references trellis.customers on delete cascade,
  provider_app_id uuid not null references trellis.provider_apps on delete cascade,
  magic_link_id uuid references trellis.magic_links on delete cascade,
  return_url text not null,
  login_url text,
  code_verifier_sealed text,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);

alter table trellis.connections add column token_expires_at timestamptz;
create index connections_token_expiry on trellis.connections (token_expires_at)
  where status <> 'bad_credentials' and token_expires_at is not null;

alter table trellis.syncs add column pause_reason text;
