-- Sessions of the admin console (src/api/console): a browser signs in with a project API key and
-- holds only a random token in an HttpOnly cookie; its digest is kept here. A session lasts as
-- long as its key: revoking the key, or deleting it, ends every session made with it.
create table trellis.console_sessions (
  token_hash text primary key,
  project_id uuid not null references trellis.projects on delete cascade,
  api_key_id uuid not null references trellis.api_keys on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index console_sessions_key on trellis.console_sessions (api_key_id);
