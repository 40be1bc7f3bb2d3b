-- Integrations as the Ampersand dialect needs them, on the model of 0006 and 0008: several per
-- provider app, each installed on every connection of its app (the Management API's sync configs,
-- at most one per app) or only where asked; per-object destinations, write objects and proxy in
-- every revision; explicit installations pin the revision they were made from and carry their own
-- configuration. Consumers (end users inside a customer) and several provider apps per provider.

alter table trellis.integrations drop constraint integrations_provider_app_id_key;
alter table trellis.integrations
  add column installs text not null default 'automatic' check (installs in ('automatic', 'on_request')),
  add column write_objects text[] not null default '{}',
  add column proxy_enabled boolean not null default false,
  alter column destination_id drop not null;
create unique index integrations_automatic on trellis.integrations (provider_app_id) where installs = 'automatic';

alter table trellis.integration_revisions
  add column write_objects text[] not null default '{}',
  add column proxy_enabled boolean not null default false;

alter table trellis.installations
  add column revision integer,
  add column config jsonb,
  add column updated_at timestamptz not null default now();

-- A plan now names its destination; Trellis resolves every plan again as it starts.
update trellis.syncs set plan = null;

create table trellis.consumers (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references trellis.projects on delete cascade,
  customer_id uuid not null references trellis.customers on delete cascade,
  ref text not null,
  name text not null default '',
  created_at timestamptz not null default now(),
  unique (customer_id, ref)
);
alter table trellis.connections add column consumer_id uuid references trellis.consumers on delete set null;

alter table trellis.provider_apps add column is_default boolean not null default true;
alter table trellis.provider_apps drop constraint provider_apps_project_id_provider_name_key;
create unique index provider_apps_default on trellis.provider_apps (project_id, provider_name) where is_default;
