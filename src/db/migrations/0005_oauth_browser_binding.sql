-- OAuth states are bound to the browser that started the flow: the SHA-256 of a random nonce
-- held in that browser's cookie. States from before this column existed have none and are refused.
alter table trellis.oauth_states add column browser_binding_hash bytea;

-- Expired states are purged; this keeps that delete from scanning the table.
create index oauth_states_expiry on trellis.oauth_states (expires_at);
