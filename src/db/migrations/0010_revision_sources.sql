-- A revision may keep the document it was deployed from (an Ampersand manifest entry), as its
-- surface received it: that surface shows it back; the core reads only the typed columns. Each
-- revision also gets an id of its own, which the surfaces show.
alter table trellis.integration_revisions
  add column id uuid not null default gen_random_uuid() unique,
  add column source jsonb;
