/** What an integration syncs and how: shared by the integrations and the syncs they make. */

export interface SyncStrategy {
  period_ms: number;
  strategy: 'full then incremental' | 'full only';
  auto_start_on_connection?: boolean;
  full_sync_every_n_incrementals?: number;
}

export interface ObjectSelection {
  object: string;
  sync_strategy_override?: SyncStrategy;
  associations_to_fetch?: string[];
}

/** What to sync for one provider and how (Supaglue: sync config data). */
export interface IntegrationConfig {
  default_config: SyncStrategy;
  common_objects?: ObjectSelection[];
  standard_objects?: ObjectSelection[];
  custom_objects?: ObjectSelection[];
  entities?: { entity_id: string }[];
}
