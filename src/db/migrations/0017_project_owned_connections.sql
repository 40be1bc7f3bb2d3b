-- A connection is owned by one of the project's customers, or by the project itself (the
-- Connectors API's connectors): then it has no customer, a name of its own, and may be one of
-- several to the same provider (unique (customer_id, provider_name) holds only where there is a
-- customer, since nulls are distinct).
alter table trellis.connections
  alter column customer_id drop not null,
  add column name text,
  -- Named values the connection was configured with beyond its credentials: [{key, label, secret,
  -- value}], the value null for secret ones, whose values are sealed in secret_settings_sealed.
  add column settings jsonb not null default '[]',
  add column secret_settings_sealed text,
  -- A pace the project chose for this connection instead of the provider's default: at most
  -- rate_limit_requests requests every rate_limit_period_seconds.
  add column rate_limit_requests integer,
  add column rate_limit_period_seconds integer,
  -- The document a surface created or last changed the connection with, for that surface to show
  -- back; the core reads none of it.
  add column source jsonb,
  add constraint connections_owner check ((customer_id is null) = (name is not null)),
  add constraint connections_rate_limit check (
    (rate_limit_requests is null) = (rate_limit_period_seconds is null)
    and coalesce(rate_limit_requests, 1) > 0 and coalesce(rate_limit_period_seconds, 1) > 0);

create index connections_project_owned on trellis.connections (project_id, name, id) where customer_id is null;
