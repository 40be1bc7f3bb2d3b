-- The built-in destination writes each project's records as a role of that project's own, which
-- may use and create in the project's schema and nothing else: not `trellis`, not `pgboss`, not
-- `public`, not another project's schema (docs/decisions/0009-destination-confinement.md).
-- Trellis calls this when a project's built-in destination is first opened in a process; it
-- needs a user that may create roles (superuser or CREATEROLE).
create function trellis.provision_project_writer(schema_name text, role_name text) returns void
language plpgsql as $$
declare
  set_privilege text := case when current_setting('server_version_num')::int >= 160000 then 'SET' else 'MEMBER' end;
  owned record;
begin
  if not exists (select 1 from pg_roles where rolname = role_name) then
    execute format('create role %I nologin noinherit', role_name);
  end if;
  -- Trellis's own user switches to the role (SET ROLE) for each built-in write.
  if not pg_has_role(current_user, role_name, set_privilege) then
    execute format('grant %I to current_user', role_name);
  end if;
  execute format('create schema if not exists %I', schema_name);
  execute format('grant usage, create on schema %I to %I', schema_name, role_name);
  -- Tables written before the role existed belong to Trellis's user: the role takes them over.
  for owned in
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = schema_name and c.relkind in ('r', 'p') and c.relowner <> to_regrole(role_name)::oid
  loop
    execute format('alter table %I.%I owner to %I', schema_name, owned.relname, role_name);
  end loop;
end
$$;
