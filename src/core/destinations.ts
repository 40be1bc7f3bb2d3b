import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import type { DestinationTarget } from '../destinations/index.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { identifierProblem } from './identifiers.ts';
import { isUuid } from './ids.ts';

export type DestinationType = 'postgres' | 'supaglue' | 'bigquery' | 'snowflake' | 'redshift' | 's3';

/** The platform's own Postgres, one schema per project; every project has it from the start. */
export const BUILT_IN_DESTINATION_NAME = 'Supaglue Managed Destination';

export interface Destination {
  id: string;
  projectId: string;
  name: string;
  type: DestinationType;
  /** Only the non-secret part of the configuration. */
  config: Record<string, unknown>;
  version: number;
}

type Config = Record<string, unknown>;

/** Config keys (dotted for nested ones) that are safe to store in the clear and to return. */
const SAFE_KEYS: Record<DestinationType, string[]> = {
  postgres: ['host', 'port', 'database', 'schema', 'user', 'ssl_mode'],
  supaglue: [],
  bigquery: ['project_id', 'dataset', 'credentials.client_email'],
  snowflake: ['host', 'role', 'warehouse', 'database', 'schema', 'username'],
  redshift: [
    'host',
    'port',
    'username',
    'database',
    'schema',
    'upload_method',
    's3_key_id',
    's3_bucket_name',
    's3_bucket_region',
  ],
  s3: ['bucket', 'region', 'access_key_id'],
};

const isObject = (v: unknown): v is Config => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Splits a config into its safe part and the rest, which is sealed by the vault. */
function splitConfig(type: DestinationType, config: Config): { safe: Config; secret: Config } {
  const safe: Config = {};
  const secret: Config = {};
  const walk = (node: Config, prefix: string, safeOut: Config, secretOut: Config) => {
    for (const [key, value] of Object.entries(node)) {
      const dotted = prefix + key;
      if (SAFE_KEYS[type].includes(dotted)) {
        safeOut[key] = value;
      } else if (isObject(value) && SAFE_KEYS[type].some((k) => k.startsWith(`${dotted}.`))) {
        safeOut[key] = {};
        secretOut[key] = {};
        walk(value, `${dotted}.`, safeOut[key] as Config, secretOut[key] as Config);
      } else {
        secretOut[key] = value;
      }
    }
  };
  walk(config, '', safe, secret);
  return { safe, secret };
}

function deepMerge(base: Config, over: Config): Config {
  const out: Config = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Config, value) : value;
  }
  return out;
}

/**
 * What Trellis itself must refuse in a Postgres destination's config: a schema name outside the
 * identifier rule, and a host the outbound network policy does not let destinations reach.
 */
async function checkPostgresConfig(deps: CoreDeps, config: Config): Promise<void> {
  const schemaProblem = identifierProblem(config.schema);
  if (schemaProblem) throw badRequest(`config.schema ${schemaProblem}`);
  if (typeof config.host !== 'string' || config.host === '') throw badRequest('config.host is required');
  const refusal = await deps.outbound.refusal('destination', config.host);
  if (refusal) {
    throw badRequest(
      `config.host: ${config.host} is not reachable for destinations (${refusal}); see TRELLIS_ALLOWED_OUTBOUND`,
    );
  }
}

const columns = 'id, project_id as "projectId", name, type, config, version';

export async function createBuiltInDestination(client: pg.ClientBase, projectId: string): Promise<void> {
  await client.query(
    `insert into destinations (project_id, name, type) values ($1, $2, 'supaglue') on conflict do nothing`,
    [projectId, BUILT_IN_DESTINATION_NAME],
  );
}

export async function listDestinations(deps: CoreDeps, projectId: string): Promise<Destination[]> {
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 order by created_at, id`,
    [projectId],
  );
  return rows;
}

export async function getDestination(deps: CoreDeps, projectId: string, id: string): Promise<Destination> {
  if (!isUuid(id)) throw notFound('destination');
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 and id = $2`,
    [projectId, id],
  );
  if (!rows[0]) throw notFound('destination');
  return rows[0];
}

export async function findDestinationByName(
  deps: CoreDeps,
  projectId: string,
  name: string,
): Promise<Destination> {
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 and name = $2`,
    [projectId, name],
  );
  if (!rows[0]) throw notFound(`destination named "${name}"`);
  return rows[0];
}

/** The full configuration including secrets, for the destination writers only. */
export async function getDestinationSecretConfig(
  deps: CoreDeps,
  projectId: string,
  id: string,
): Promise<Config> {
  const { rows } = await deps.db.query<{ config: Config; secrets: string | null }>(
    'select config, secrets_sealed as secrets from destinations where project_id = $1 and id = $2',
    [projectId, id],
  );
  if (!rows[0]) throw notFound('destination');
  return deepMerge(
    rows[0].config,
    rows[0].secrets
      ? deps.vault.openJson<Config>(rows[0].secrets, SEALED_COLUMNS.destinationSecrets, id)
      : {},
  );
}

/** A destination as the writers need it; only the built-in one and Postgres can be synced into. */
export function destinationTarget(deps: CoreDeps, d: Destination): DestinationTarget {
  if (d.type === 'supaglue') return { kind: 'built-in', projectId: d.projectId };
  if (d.type !== 'postgres')
    throw badRequest(`syncing into ${d.type} destinations is not supported; use postgres`);
  return {
    kind: 'postgres',
    id: d.id,
    version: d.version,
    config: () => getDestinationSecretConfig(deps, d.projectId, d.id),
  };
}

export async function createDestination(
  deps: CoreDeps,
  projectId: string,
  input: { name?: string; type: DestinationType; config?: Config },
): Promise<Destination> {
  if (input.type === 'supaglue') {
    throw conflict(`every project has one managed destination ("${BUILT_IN_DESTINATION_NAME}") already`);
  }
  if (!input.name) throw badRequest('name is required');
  if (input.type === 'postgres') await checkPostgresConfig(deps, input.config ?? {});
  const { safe, secret } = splitConfig(input.type, input.config ?? {});
  const id = randomUUID();
  const { rows } = await deps.db.query<Destination>(
    `insert into destinations (id, project_id, name, type, config, secrets_sealed)
     values ($6, $1, $2, $3, $4, $5) on conflict (project_id, name) do nothing returning ${columns}`,
    [
      projectId,
      input.name,
      input.type,
      safe,
      deps.vault.sealJson(secret, SEALED_COLUMNS.destinationSecrets, id),
      id,
    ],
  );
  if (!rows[0]) throw conflict(`a destination named "${input.name}" already exists`);
  return rows[0];
}

/**
 * Replaces a destination's configuration. `version` must be the current version (optimistic
 * concurrency); secrets left out of the request are kept.
 */
export async function updateDestination(
  deps: CoreDeps,
  projectId: string,
  id: string,
  input: { name: string; type: DestinationType; config: Config; version: number },
): Promise<Destination> {
  const current = await getDestination(deps, projectId, id);
  if (current.type === 'supaglue') throw badRequest('the managed destination cannot be updated');
  if (input.type !== current.type) throw badRequest(`cannot change destination type from ${current.type}`);
  if (input.version !== current.version) {
    throw conflict(
      `destination is at version ${current.version}, the update was made against ${input.version}`,
    );
  }
  if (current.type === 'postgres') await checkPostgresConfig(deps, input.config);
  const stored = await deps.db.query<{ secrets: string | null }>(
    'select secrets_sealed as secrets from destinations where id = $1',
    [id],
  );
  const oldSecret = stored.rows[0]?.secrets
    ? deps.vault.openJson<Config>(stored.rows[0].secrets, SEALED_COLUMNS.destinationSecrets, current.id)
    : {};
  const { safe, secret } = splitConfig(current.type, input.config);
  try {
    const { rows } = await deps.db.query<Destination>(
      `update destinations set name = $3, config = $4, secrets_sealed = $5, version = version + 1, updated_at = now()
        where project_id = $1 and id = $2 and version = $6 returning ${columns}`,
      [
        projectId,
        id,
        input.name,
        safe,
        deps.vault.sealJson(deepMerge(oldSecret, secret), SEALED_COLUMNS.destinationSecrets, current.id),
        input.version,
      ],
    );
    if (!rows[0]) throw conflict('destination was changed concurrently; fetch it and retry');
    return rows[0];
  } catch (err) {
    if ((err as { code?: string }).code === '23505')
      throw conflict(`a destination named "${input.name}" already exists`);
    throw err;
  }
}
