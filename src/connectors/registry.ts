import type { ProviderName } from './catalog.ts';

/** What a connector can tell about the account behind a connection. */
export interface AccountCapabilities {
  providerUserId?(credentials: unknown): Promise<{ userId: string; raw: Record<string, unknown> }>;
  rateLimitInfo?(credentials: unknown): Promise<Record<string, unknown>>;
}

export type Connector = AccountCapabilities;

/** Capability code by provider; a provider with no entry here is known only through its catalog entry. */
const CONNECTORS: Partial<Record<ProviderName, Connector>> = {};

export function connectorFor(provider: ProviderName): Connector | undefined {
  return CONNECTORS[provider];
}
