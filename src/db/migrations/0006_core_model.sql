-- The core's own model of what an integration reads (src/core/read-plan.ts), replacing the
-- Supaglue sync-config JSON stored as it came: integrations get a name and numbered revisions,
-- connections keep their overrides in core terms, and each sync holds its resolved plan.
-- Existing rows are converted in place; sync state (checkpoints, watermarks) is untouched.

-- A Supaglue sync strategy as a core read policy.
create function pg_temp.read_policy(strategy jsonb) returns jsonb language sql immutable as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'schedule', jsonb_build_object('everyMs', strategy->'period_ms'),
    'mode', case strategy->>'strategy' when 'full only' then 'full' else 'incremental' end,
    'fullEvery', strategy->'full_sync_every_n_incrementals',
    'startOnInstall', strategy->'auto_start_on_connection'))
$$;

create function pg_temp.read_spec(config jsonb) returns jsonb language sql immutable as $$
  select jsonb_build_object(
    'defaults', pg_temp.read_policy(config->'default_config'),
    'objects', coalesce((
      select jsonb_agg(o.item order by o.list, o.position) from (
        select l.list, x.position, jsonb_strip_nulls(jsonb_build_object(
                 'target', case when l.kind = 'entity'
                   then jsonb_build_object('kind', 'entity', 'entityId', x.value->'entity_id')
                   else jsonb_build_object('kind', l.kind, 'object', x.value->'object') end,
                 'policy', case when x.value ? 'sync_strategy_override'
                   then pg_temp.read_policy(x.value->'sync_strategy_override') end,
                 'associations', x.value->'associations_to_fetch')) as item
          from (values (1, 'common', 'common_objects'), (2, 'standard', 'standard_objects'),
                       (3, 'custom', 'custom_objects'), (4, 'entity', 'entities')) as l (list, kind, key)
          cross join lateral jsonb_array_elements(coalesce(config->l.key, '[]')) with ordinality as x (value, position)
      ) o), '[]'))
$$;

create function pg_temp.read_overrides(overrides jsonb) returns jsonb language sql immutable as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'destination', case when overrides ? 'destination_config' then jsonb_strip_nulls(jsonb_build_object(
        'kind', overrides->'destination_config'->'type',
        'schema', overrides->'destination_config'->'schema',
        'dataset', overrides->'destination_config'->'dataset')) end,
    'objects', (
      select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'kind', l.kind, 'object', x.value->'object', 'table', x.value->'table')) order by l.list, x.position)
        from (values (1, 'standard', 'standard_objects'), (2, 'custom', 'custom_objects')) as l (list, kind, key)
        cross join lateral jsonb_array_elements(coalesce(overrides->l.key, '[]')) with ordinality as x (value, position)
       where overrides ? l.key)))
$$;

alter table trellis.integrations
  add column name text,
  add column revision integer not null default 1,
  add column read_spec jsonb;
update trellis.integrations i set read_spec = pg_temp.read_spec(i.config),
  name = (select p.provider_name from trellis.provider_apps p where p.id = i.provider_app_id);
alter table trellis.integrations
  alter column name set not null,
  alter column read_spec set not null,
  drop column config,
  add constraint integrations_name unique (project_id, name);

-- Every revision an integration has had, the current one included.
create table trellis.integration_revisions (
  integration_id uuid not null references trellis.integrations on delete cascade,
  revision integer not null,
  read_spec jsonb not null,
  created_at timestamptz not null default now(),
  primary key (integration_id, revision)
);
insert into trellis.integration_revisions (integration_id, revision, read_spec, created_at)
  select id, revision, read_spec, updated_at from trellis.integrations;

alter table trellis.connections add column read_overrides jsonb;
update trellis.connections set read_overrides = pg_temp.read_overrides(sync_overrides)
  where sync_overrides is not null;
alter table trellis.connections drop column sync_overrides;

-- The plan is resolved by Trellis when it starts (src/core/syncs.ts planMissingSyncs): working it
-- out needs the same rules as every later change, which live in code, not here.
alter table trellis.syncs add column plan jsonb;

-- Run statuses in the core's words; the Management API shows them as it always did.
alter table trellis.sync_runs drop constraint if exists sync_runs_status_check;
update trellis.sync_runs set status = case status
  when 'SUCCESS' then 'succeeded' when 'FAILURE' then 'failed' else 'running' end;
alter table trellis.sync_runs add constraint sync_runs_status check (status in ('running', 'succeeded', 'failed'));
