-- Files a project uploads to a signed URL of Trellis's (the zip `amp deploy` sends, whose manifest
-- a deploy then names). They are kept a day: each upload deletes those older than that.
create table trellis.uploads (
  path text primary key,
  project_id uuid not null references trellis.projects on delete cascade,
  bytes bytea not null,
  md5 bytea not null,
  created_at timestamptz not null default now()
);
create index uploads_created_at on trellis.uploads (created_at);
