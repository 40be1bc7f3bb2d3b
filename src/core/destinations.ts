import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SEALED_COLUMNS } from '../auth/vault.ts';
import { generateWebhookSecret, signWebhook } from '../auth/webhook-signature.ts';
import { transaction } from '../db/pool.ts';
import type { DestinationTarget, WebhookReceiver } from '../destinations/index.ts';
import type { CoreDeps } from './deps.ts';
import { badRequest, conflict, notFound } from './errors.ts';
import { identifierProblem } from './identifiers.ts';
import { isUuid } from './ids.ts';
import { holdResult } from './uploads.ts';

export type DestinationType =
  | 'postgres'
  | 'supaglue'
  | 'webhook'
  | 'bigquery'
  | 'snowflake'
  | 'redshift'
  | 's3';

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
  createdAt: Date;
  updatedAt: Date;
}

type Config = Record<string, unknown>;

/** Config keys (dotted for nested ones) that are safe to store in the clear and to return. */
const SAFE_KEYS: Record<DestinationType, string[]> = {
  postgres: ['host', 'port', 'database', 'schema', 'user', 'ssl_mode'],
  supaglue: [],
  // Header values may be credentials (an Authorization header), so all of them are sealed.
  webhook: ['url'],
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

/** Headers Trellis sets on every webhook message; a destination's own may not replace them. */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'host',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_HEADERS = 50;
const MAX_HEADER_VALUE_LENGTH = 8192;

function checkWebhookHeaders(headers: unknown): void {
  if (!isObject(headers)) throw badRequest('config.headers must be an object of header names and values');
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS)
    throw badRequest(`config.headers may name at most ${MAX_HEADERS} headers`);
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name)) throw badRequest(`config.headers: "${name}" is not a valid header name`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw badRequest(`config.headers: ${name} is set by Trellis on every message`);
    }
    // Values are not echoed: they may be credentials.
    if (typeof value !== 'string') throw badRequest(`config.headers.${name} must be a string`);
    if (value.length > MAX_HEADER_VALUE_LENGTH || /[\r\n\0]/.test(value)) {
      throw badRequest(
        `config.headers.${name} must be at most ${MAX_HEADER_VALUE_LENGTH} characters, with no line breaks or NUL`,
      );
    }
  }
}

/**
 * A webhook destination's config is `{ url, headers? }`: an absolute http(s) URL without user
 * name or password that the outbound network policy lets destinations reach, and plain headers.
 */
async function checkWebhookConfig(deps: CoreDeps, config: Config): Promise<void> {
  const unknown = Object.keys(config).find((key) => key !== 'url' && key !== 'headers');
  if (unknown !== undefined) throw badRequest(`config.${unknown} is not a webhook setting (url, headers)`);
  if (typeof config.url !== 'string' || config.url === '') throw badRequest('config.url is required');
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw badRequest('config.url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badRequest('config.url must use http or https');
  if (url.username || url.password) throw badRequest('config.url must not carry a user name or password');
  if (config.headers !== undefined) checkWebhookHeaders(config.headers);
  // The same purpose the writer connects with: a webhook destination is a destination.
  const refusal = await deps.outbound.refusal('destination', url.hostname);
  if (refusal) {
    throw badRequest(
      `config.url: ${url.hostname} is not reachable for destinations (${refusal}); see TRELLIS_ALLOWED_OUTBOUND`,
    );
  }
}

/** What Trellis refuses in a destination's config before storing it, by type. */
async function checkConfig(deps: CoreDeps, type: DestinationType, config: Config): Promise<void> {
  if (type === 'postgres') await checkPostgresConfig(deps, config);
  if (type === 'webhook') await checkWebhookConfig(deps, config);
}

const columns =
  'id, project_id as "projectId", name, type, config, version, created_at as "createdAt", updated_at as "updatedAt"';

export async function createBuiltInDestination(client: pg.ClientBase, projectId: string): Promise<void> {
  await client.query(
    `insert into destinations (project_id, name, type) values ($1, $2, 'supaglue') on conflict do nothing`,
    [projectId, BUILT_IN_DESTINATION_NAME],
  );
}

/**
 * A project's destinations; `types`, when given, are the only ones a caller sees (a surface shows
 * the types its dialect has, and another surface's destinations do not exist for it).
 */
export async function listDestinations(
  deps: CoreDeps,
  projectId: string,
  types?: readonly DestinationType[],
): Promise<Destination[]> {
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 and ($2::text[] is null or type = any($2))
      order by created_at, id`,
    [projectId, types ?? null],
  );
  return rows;
}

/** One destination of the project; of one of `types` when given, or not found. */
export async function getDestination(
  deps: CoreDeps,
  projectId: string,
  id: string,
  types?: readonly DestinationType[],
): Promise<Destination> {
  if (!isUuid(id)) throw notFound('destination');
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 and id = $2 and ($3::text[] is null or type = any($3))`,
    [projectId, id, types ?? null],
  );
  if (!rows[0]) throw notFound('destination');
  return rows[0];
}

/** A destination by name; `types` limits the answer to the kinds a surface knows. */
export async function findDestinationByName(
  deps: CoreDeps,
  projectId: string,
  name: string,
  types?: readonly DestinationType[],
): Promise<Destination> {
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 and name = $2 and ($3::text[] is null or type = any($3))`,
    [projectId, name, types ?? null],
  );
  if (!rows[0]) throw notFound(`destination named "${name}"`);
  return rows[0];
}

/** A destination by its id or its name (for surfaces whose paths take either); `types` as above. */
export async function findDestination(
  deps: CoreDeps,
  projectId: string,
  idOrName: string,
  types?: readonly DestinationType[],
): Promise<Destination> {
  const { rows } = await deps.db.query<Destination>(
    `select ${columns} from destinations where project_id = $1 and (name = $2 or id::text = lower($2))
       and ($3::text[] is null or type = any($3)) order by id::text = lower($2) desc limit 1`,
    [projectId, idOrName, types ?? null],
  );
  if (!rows[0]) throw notFound(`destination "${idOrName}"`);
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

/** A webhook destination's URL, headers and signing, read when a run opens it. */
async function webhookReceiver(deps: CoreDeps, d: Destination): Promise<WebhookReceiver> {
  const config = await getDestinationSecretConfig(deps, d.projectId, d.id);
  const secret = String(config.signingSecret);
  const headers = isObject(config.headers) ? config.headers : {};
  return {
    url: String(config.url),
    headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)])),
    sign: (messageId, timestampSeconds, body) => signWebhook(secret, messageId, timestampSeconds, body),
    hold: (resultJson) => holdResult(deps, d.projectId, resultJson),
  };
}

/** A destination as the writers need it; the built-in one, Postgres and webhooks can be synced into. */
export function destinationTarget(deps: CoreDeps, d: Destination): DestinationTarget {
  if (d.type === 'supaglue') return { kind: 'built-in', projectId: d.projectId };
  if (d.type === 'webhook') return { kind: 'webhook', id: d.id, receiver: () => webhookReceiver(deps, d) };
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
  await checkConfig(deps, input.type, input.config ?? {});
  const { safe, secret } = splitConfig(input.type, input.config ?? {});
  // Each webhook destination signs its messages with a secret of its own (Standard Webhooks).
  if (input.type === 'webhook') secret.signingSecret = generateWebhookSecret();
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
 * concurrency); secrets left out of the request are kept. A webhook's headers are replaced as a
 * whole when given (so one can be removed), and its signing secret is kept.
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
  await checkConfig(deps, current.type, input.config);
  const stored = await deps.db.query<{ secrets: string | null }>(
    'select secrets_sealed as secrets from destinations where id = $1',
    [id],
  );
  const oldSecret = stored.rows[0]?.secrets
    ? deps.vault.openJson<Config>(stored.rows[0].secrets, SEALED_COLUMNS.destinationSecrets, current.id)
    : {};
  const { safe, secret } = splitConfig(current.type, input.config);
  const secrets = current.type === 'webhook' ? { ...oldSecret, ...secret } : deepMerge(oldSecret, secret);
  try {
    const { rows } = await deps.db.query<Destination>(
      `update destinations set name = $3, config = $4, secrets_sealed = $5, version = version + 1, updated_at = now()
        where project_id = $1 and id = $2 and version = $6 returning ${columns}`,
      [
        projectId,
        id,
        input.name,
        safe,
        deps.vault.sealJson(secrets, SEALED_COLUMNS.destinationSecrets, current.id),
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

/**
 * A webhook destination's signing secret, for the project to verify its messages with; `rotate`
 * replaces it first (messages from then on are signed with the new one).
 */
export async function destinationSigningSecret(
  deps: CoreDeps,
  projectId: string,
  id: string,
  options: { rotate?: boolean } = {},
): Promise<string> {
  const destination = await getDestination(deps, projectId, id);
  if (destination.type !== 'webhook') throw badRequest('only webhook destinations have a signing secret');
  return transaction(deps.db, async (client) => {
    // Locked: a concurrent rotation re-seals the same column.
    const { rows } = await client.query<{ secrets: string | null }>(
      'select secrets_sealed as secrets from destinations where project_id = $1 and id = $2 for update',
      [projectId, id],
    );
    if (!rows[0]) throw notFound('destination');
    const secrets = rows[0].secrets
      ? deps.vault.openJson<Config>(rows[0].secrets, SEALED_COLUMNS.destinationSecrets, id)
      : {};
    if (!options.rotate && typeof secrets.signingSecret === 'string') return secrets.signingSecret;
    const signingSecret = generateWebhookSecret();
    // A new version: an update made against the old one would seal the old secret back.
    await client.query(
      'update destinations set secrets_sealed = $2, version = version + 1, updated_at = now() where id = $1',
      [id, deps.vault.sealJson({ ...secrets, signingSecret }, SEALED_COLUMNS.destinationSecrets, id)],
    );
    return signingSecret;
  });
}

/**
 * Deletes a destination nothing sends records to: an integration (its own destination, or an
 * object's in any of its revisions) or a sync's plan naming it is a conflict. The built-in one stays.
 */
export async function deleteDestination(
  deps: CoreDeps,
  projectId: string,
  id: string,
  types?: readonly DestinationType[],
): Promise<void> {
  const current = await getDestination(deps, projectId, id, types);
  if (current.type === 'supaglue') throw badRequest('the managed destination cannot be deleted');
  await transaction(deps.db, async (client) => {
    const named = (column: string) =>
      `jsonb_path_exists(${column}, '$.objects[*] ? (@.destinationId == $id)', jsonb_build_object('id', $1::text))`;
    const { rows } = await client.query<{ integration: string | null }>(
      `select coalesce(
         (select i.name from integrations i where i.destination_id = $1 or ${named('i.read_spec')} limit 1),
         (select i.name from integration_revisions r join integrations i on i.id = r.integration_id
           where ${named('r.read_spec')} limit 1),
         (select i.name from syncs s join installations ins on ins.id = s.installation_id
           join integrations i on i.id = ins.integration_id where s.plan->>'destinationId' = $1::text limit 1)
       ) as integration`,
      [current.id],
    );
    const user = rows[0]?.integration;
    if (user !== null && user !== undefined)
      throw conflict(`integration "${user}" sends records to destination "${current.name}"; change it first`);
    try {
      await client.query('delete from destinations where id = $1', [current.id]);
    } catch (err) {
      // An integration was given it since the check.
      if ((err as { code?: string }).code === '23503')
        throw conflict(`an integration sends records to destination "${current.name}"; change it first`);
      throw err;
    }
  });
}
