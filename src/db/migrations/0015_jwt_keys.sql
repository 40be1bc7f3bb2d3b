-- The RSA public keys a project registers (the Platform API's jwt-keys) to verify the browser
-- tokens its own server signs: RS256 JWTs for one group and consumer, which a page sends instead
-- of the project's API key. A token names its key by id (kid); only active keys verify. Public
-- keys are not secret, so they are kept as given, not sealed.
create table trellis.jwt_keys (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references trellis.projects on delete cascade,
  label text not null,
  algorithm text not null check (algorithm = 'RS256'),
  public_key_pem text not null,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index jwt_keys_project on trellis.jwt_keys (project_id, created_at, id);
