-- A write operation goes through an installation or through a connection the project owns (a
-- Connectors API connector), which has no installation: exactly one of them is named.
alter table trellis.write_operations
  alter column installation_id drop not null,
  add column connection_id uuid references trellis.connections on delete cascade,
  add constraint write_operations_target check (num_nonnulls(installation_id, connection_id) = 1);

create index write_operations_connection on trellis.write_operations (connection_id, created_at desc, id)
  where connection_id is not null;
