import type { Destination, DestinationType } from '../../core/destinations.ts';
import { RequestRefused } from '../surface/errors.ts';

/**
 * Destinations in the Platform API's shape. This API shows webhook destinations only, as the
 * Management API shows only its own kinds: the others do not exist for it. A webhook's `metadata`
 * is its URL and headers; the headers are sealed with the destination and never shown, and its
 * signing key is shown only when asked for (`includeSecrets`).
 */
export const AMPERSAND_DESTINATION_TYPES: readonly DestinationType[] = ['webhook'];

/** The document's webhook `metadata`, as far as Trellis reads it. */
interface WebhookMetadata {
  url?: string;
  headers?: Record<string, string> | null;
  [other: string]: unknown;
}

export interface CreateDestinationBody {
  name: string;
  type: string;
  metadata: WebhookMetadata;
  secrets?: Record<string, string>;
}

export interface UpdateDestinationBody {
  updateMask: string[];
  destination: { name?: string; metadata?: WebhookMetadata };
}

const refuse = (pointer: string, detail: string) =>
  new RequestRefused('invalid_input', `${pointer.slice(1).replaceAll('/', '.')} ${detail}`, {
    issues: [{ in: 'body', name: pointer, detail }],
  });

/** Names are how manifests and paths refer to a destination (the document's rule). */
const NAME = /^[A-Za-z0-9-]+$/;

function checkName(name: string | undefined, pointer: string): string {
  if (!name || !NAME.test(name)) throw refuse(pointer, 'must be letters, digits and dashes only');
  return name;
}

/** A webhook's config in the core's words: its URL, and its headers when given (`null`: none). */
function webhookConfigOf(metadata: WebhookMetadata, pointer: string): Record<string, unknown> {
  const other = Object.keys(metadata).find((key) => key !== 'url' && key !== 'headers');
  if (other !== undefined) throw refuse(`${pointer}/${other}`, 'is not a setting of webhook destinations');
  if (!metadata.url) throw refuse(`${pointer}/url`, 'is required');
  return {
    url: metadata.url,
    ...(metadata.headers === undefined ? {} : { headers: metadata.headers ?? {} }),
  };
}

export function destinationInputOf(body: CreateDestinationBody) {
  if (body.type !== 'webhook')
    throw refuse('/type', `is ${body.type}: Trellis delivers to webhook destinations only`);
  if (body.secrets && Object.keys(body.secrets).length > 0)
    throw refuse('/secrets', 'is not taken: webhook destinations have no secrets to set');
  return {
    name: checkName(body.name, '/name'),
    type: 'webhook' as const,
    config: webhookConfigOf(body.metadata, '/metadata'),
  };
}

const MASKABLE = ['name', 'metadata.url', 'metadata.headers'];

/**
 * An update of `current` in the core's words: its whole new config (the URL kept unless the mask
 * names it; headers replaced only when the mask names them, `null` removing them) and name.
 */
export function destinationUpdateOf(body: UpdateDestinationBody, current: Destination) {
  if (body.updateMask.length === 0) throw refuse('/updateMask', 'must name at least one field');
  const given = body.destination;
  let name = current.name;
  const metadata: WebhookMetadata = { url: String(current.config.url) };
  for (const field of new Set(body.updateMask)) {
    if (!MASKABLE.includes(field))
      throw refuse(
        '/updateMask',
        `names "${field}"; what a webhook destination can change: ${MASKABLE.join(', ')}`,
      );
    if (field === 'name') name = checkName(given.name, '/destination/name');
    else if (field === 'metadata.url') metadata.url = given.metadata?.url ?? '';
    else metadata.headers = given.metadata?.headers ?? null;
  }
  return {
    name,
    type: current.type,
    config: webhookConfigOf(metadata, '/destination/metadata'),
    version: current.version,
  };
}

/** A destination as the document's `Destination`, with its signing key when one is given. */
export function ampersandDestination(d: Destination, signingKey?: string) {
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    metadata: { url: String(d.config.url) },
    createTime: d.createdAt.toISOString(),
    updateTime: d.updatedAt.toISOString(),
    ...(signingKey === undefined ? {} : { secrets: { webhookSigningKey: signingKey } }),
  };
}
