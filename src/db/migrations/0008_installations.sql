-- An installation is an integration enabled on one connection; a sync is one object of an
-- installation. The Management API makes them implicitly: one for each connection whose provider
-- app has a sync config (src/core/syncs.ts reconcileConnectionSyncs).
create table trellis.installations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references trellis.projects on delete cascade,
  integration_id uuid not null references trellis.integrations on delete cascade,
  connection_id uuid not null references trellis.connections on delete cascade,
  created_at timestamptz not null default now(),
  unique (integration_id, connection_id)
);
create index installations_connection on trellis.installations (connection_id);

insert into trellis.installations (project_id, integration_id, connection_id, created_at)
  select project_id, integration_id, connection_id, min(created_at) from trellis.syncs
   group by project_id, integration_id, connection_id;

alter table trellis.syncs add column installation_id uuid references trellis.installations on delete cascade;
update trellis.syncs s set installation_id = i.id from trellis.installations i
 where i.integration_id = s.integration_id and i.connection_id = s.connection_id;
alter table trellis.syncs
  alter column installation_id set not null,
  drop column integration_id,
  drop constraint syncs_connection_id_object_type_object_key,
  add constraint syncs_installation_object unique (installation_id, object_type, object);
-- The Management API names a sync by its connection and object.
create index syncs_connection_object on trellis.syncs (connection_id, object_type, object);
