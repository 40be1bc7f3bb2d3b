import type { ProviderSimulator } from './core/server.ts';
import { hubspot } from './hubspot/index.ts';

export { type RunningSimulator, startSimulator } from './core/server.ts';

/** Every simulator by provider name. */
export const SIMULATORS: Record<string, ProviderSimulator> = { hubspot };
