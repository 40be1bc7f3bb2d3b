import { apollo } from './apollo/index.ts';
import type { ProviderSimulator } from './core/server.ts';
import { gong } from './gong/index.ts';
import { hubspot } from './hubspot/index.ts';
import { pipedrive } from './pipedrive/index.ts';
import { salesforce } from './salesforce/index.ts';

export { type RunningSimulator, startSimulator } from './core/server.ts';

/** Every simulator by provider name. */
export const SIMULATORS: Record<string, ProviderSimulator> = { apollo, gong, hubspot, pipedrive, salesforce };
