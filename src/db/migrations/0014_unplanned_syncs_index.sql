-- Trellis looks for syncs without a plan every time it starts (planUnplannedSyncs, after an
-- upgrade); there are none once they are planned, and this finds that without reading every sync.
create index syncs_unplanned on trellis.syncs (connection_id) where plan is null;
