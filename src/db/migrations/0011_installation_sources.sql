-- An installation made through a surface may keep the configuration document it was given (an
-- Ampersand installation's config content), for that surface to show back; the core reads only
-- its typed `config`.
alter table trellis.installations add column source jsonb;
