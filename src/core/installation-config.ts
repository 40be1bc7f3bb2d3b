import type { FieldChoice } from './read-plan.ts';

/** What an installation made on request chose within its integration. */
export interface InstallationConfig {
  /** The read objects it syncs, each with the optional fields and field mappings it chose. */
  read: ({ object: string } & FieldChoice)[];
  /** The objects it lets callers write. */
  write: { object: string }[];
}

/** The objects an installation reads; undefined (every object) for one made automatically. */
export function selectedObjects(config: InstallationConfig | null): ReadonlySet<string> | undefined {
  return config ? new Set(config.read.map((o) => o.object)) : undefined;
}

/** What an installation chose for each object it reads; undefined (every object, all fields) for one made automatically. */
export function readChoices(config: InstallationConfig | null): ReadonlyMap<string, FieldChoice> | undefined {
  return config ? new Map(config.read.map(({ object, ...choice }) => [object, choice])) : undefined;
}
