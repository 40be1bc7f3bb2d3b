-- OAuth flows started by a page of the project's product in a popup (the Platform API's
-- oauth-connect and oauth-update) end by posting their outcome to the page that opened them, not
-- at a return URL: the state keeps that page's exact origin instead. Such a state is claimed by
-- the first browser that opens its start URL, so its binding hash is set then, not on insert.
alter table trellis.oauth_states
  alter column return_url drop not null,
  add column opener_origin text,
  -- The end user who connects, made in the customer when the flow completes.
  add column consumer_ref text,
  add column consumer_name text,
  -- The connection a re-authorization renews; checked when the flow completes, so no foreign key.
  add column renews_connection_id uuid,
  add constraint oauth_states_one_end check ((return_url is null) <> (opener_origin is null));
