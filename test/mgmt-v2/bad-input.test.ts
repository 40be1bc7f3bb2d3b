import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_IDS, REQUEST_LIMITS, servedDocument } from '../../src/api/mgmt-v2/openapi.ts';
import {
  BAD_IDS,
  badApiKeys,
  bodyCases,
  type Document,
  documentOperations,
  type Expected,
  HOSTILE,
  headerCases,
  inPool,
  isObject,
  METHODS,
  NUL,
  type Operation,
  resolve,
  sample,
  statusIs,
  typesOf,
} from '../helpers/bad-input.ts';
import { createFixture, type Fixture } from '../helpers/mgmt-fixtures.ts';
import { client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Bad input against every operation of the Management API, generated from the spec: each
 * operation's parameters and request body schema decide which bad requests it gets, and each must
 * be answered with a 4xx in the Supaglue error shape, never a 5xx. The requests address the
 * fixture's real resources (real ids in the path, its HubSpot connection in the x-customer-id /
 * x-provider-name headers), so that only the one bad part of a request can be the reason it fails.
 * Afterwards nothing may have answered 5xx, the server may have logged no error, and everything the
 * API shows of the fixture must be as it was.
 */

// The seed spec, as bundled with the server (a byte-identical copy of the seed file).
const SEED = JSON.parse(
  fs.readFileSync(new URL('../../src/api/mgmt-v2/mgmt-v2.openapi.json', import.meta.url), 'utf8'),
) as Document;
// The served document adds Trellis's extensions (webhook endpoints); they get the same treatment.
const SERVED = servedDocument('http://trellis.test') as unknown as Document;

const SEED_OPERATIONS = documentOperations(SEED);
const OPERATIONS = [
  ...SEED_OPERATIONS,
  ...documentOperations(SERVED, new Set(SEED_OPERATIONS.map((o) => o.id))),
];

/** Real values for the path parameters, by name: the fixture's resources. */
function pathValue(name: string, fx: Fixture): string {
  const values: Record<string, string> = {
    customer_id: fx.customerId,
    provider_name: 'hubspot',
    destination_id: fx.destinationId,
    magic_link_id: fx.magicLinkId,
    entity_id: fx.entityId,
    schema_id: fx.schemaId,
    provider_id: fx.hubspotProviderId,
    sync_config_id: fx.syncConfigId,
    webhook_id: fx.webhookId,
  };
  const value = values[name];
  if (value === undefined) throw new Error(`no fixture value for path parameter ${name}; add one`);
  return value;
}

/** The fixture's HubSpot connection, for the operations that name a connection in headers. */
const connectionHeaders = (fx: Fixture): Record<string, string> => ({
  'x-customer-id': fx.customerId,
  'x-provider-name': 'hubspot',
});

interface Request {
  method: string;
  path: Record<string, string>;
  headers: Record<string, string>;
  query: Record<string, string>;
  json?: unknown;
  raw?: string;
  contentType?: string;
  /** Put the path values into the URL as they are, not percent-encoded. */
  rawPath?: boolean;
}

interface Case {
  op: Operation;
  name: string;
  req: Request;
  expect: Expected;
  /** What the error detail must name: `body/<property>`, `path parameter <name>`. */
  names?: string;
}

interface Outcome {
  c: Case;
  status: number;
  body: unknown;
  contentType: string | null;
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** The bad requests for one operation, each otherwise valid and addressing the fixture's resources. */
function casesFor(op: Operation, fx: Fixture, apiKey: string): Case[] {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const headerParams = op.params.filter((p) => p.in === 'header');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const conn = connectionHeaders(fx);

  // A body property named like a path parameter must agree with it (e.g. entity_id).
  const bodyFor = (path: Record<string, string>) => {
    if (!op.body) return undefined;
    const body = sample(op.doc, op.body);
    if (isObject(body)) for (const [k, v] of Object.entries(path)) if (k in body) body[k] = v;
    return body;
  };
  const path = Object.fromEntries(pathParams.map((p) => [p.name, pathValue(p.name, fx)]));
  const requiredHeaders = headerParams.filter((p) => p.required);
  const base: Request = {
    method: op.method,
    path,
    headers: {
      'x-api-key': apiKey,
      ...Object.fromEntries(
        requiredHeaders.map((p) => [p.name, conn[p.name] ?? String(sample(op.doc, p.schema))]),
      ),
    },
    query: Object.fromEntries(
      queryParams.filter((p) => p.required).map((p) => [p.name, String(sample(op.doc, p.schema))]),
    ),
    json: bodyFor(path),
  };

  const cases: Case[] = [];
  const add = (name: string, expect: Expected, change: (r: Request) => void, names?: string) => {
    const req = structuredClone(base);
    change(req);
    cases.push({ op, name, req, expect, ...(names ? { names } : {}) });
  };

  for (const [name, key] of badApiKeys(apiKey))
    add(name, 401, (r) => {
      if (key === undefined) delete r.headers['x-api-key'];
      else r.headers['x-api-key'] = key;
    });

  for (const { name, header, value, expect } of headerCases(op))
    add(name, expect, (r) => {
      if (value === undefined) delete r.headers[header];
      else r.headers[header] = value;
    });
  for (const p of headerParams.filter((param) => param.name in conn)) {
    const set = (value: string) => (r: Request) => {
      r.headers[p.name] = value;
    };
    add(`unknown ${p.name}`, 404, set(`unknown-${p.name}`));
    add(`hostile ${p.name}`, 404, set(HOSTILE));
  }
  // A provider the project has, but this customer has not connected.
  if ('x-provider-name' in base.headers)
    add('x-provider-name of an unconnected provider', 404, (r) => {
      r.headers['x-provider-name'] = 'salesforce';
    });

  for (const p of queryParams) {
    const s = resolve(op.doc, p.schema);
    const set = (value: string) => (r: Request) => {
      r.query[p.name] = value;
    };
    if (p.required) add(`missing query ${p.name}`, 400, (r) => delete r.query[p.name]);
    if (s.enum) add(`query ${p.name} not in its enum`, 400, set('bogus'));
    if (typesOf(s).includes('boolean')) add(`query ${p.name} not a boolean`, 400, set('maybe'));
    if (p.name === 'page_size') {
      for (const v of ['abc', '0', '-5', '2.5', '1001', '99999999999999999999', '0x10'])
        add(`page_size=${v}`, 400, set(v));
    }
    if (p.name === 'cursor') {
      for (const v of ['garbage!!', b64('not json'), b64({ k: 'x', r: false }), b64([1, 2])])
        add(`cursor=${v}`, 400, set(v));
      // Well-formed cursors this server never issued, of every arity, with values that may not fit
      // the sort keys' types: a 200 (nothing after them) or a 400 are both right.
      for (let n = 1; n <= 5; n++) {
        for (const v of ['garbage', HOSTILE, '2024-01-01T00:00:00Z', 42, { a: 1 }])
          add(
            `forged cursor of ${n} key(s) ${JSON.stringify(v)}`,
            'not-5xx',
            set(b64({ k: Array(n).fill(v), r: false })),
          );
      }
    }
    add(`hostile query ${p.name}`, 'not-5xx', set(HOSTILE));
    add(`query ${p.name} with a NUL character`, '4xx', set(NUL));
  }

  for (const p of pathParams) {
    // A body property named like the path parameter gets its value too, and is held to the body's limits.
    const copiedIntoBody = isObject(base.json) && p.name in base.json;
    // A value outside the parameter's enum is bad input, not a name for something that is not there.
    const { enum: allowed } = resolve(op.doc, p.schema);
    for (const [v, expected] of [...BAD_IDS, [randomUUID(), 404] as const]) {
      const shown = JSON.stringify(v.length > 40 ? `${v.slice(0, 10)}…` : v);
      const tooLong = copiedIntoBody && v.length > REQUEST_LIMITS.maxLength;
      const expect = tooLong || (allowed && !allowed.includes(v)) ? 400 : expected;
      add(`path ${p.name}=${shown}`, expect, (r) => {
        r.path[p.name] = v;
        r.json = bodyFor(r.path);
      });
    }
    if (allowed) {
      add(
        `path ${p.name} not in its enum`,
        400,
        (r) => {
          r.path[p.name] = 'bogus-enum-value';
        },
        `path parameter ${p.name}`,
      );
      // In the enum, but nothing the fixture has: looked up, and not found.
      const unused = allowed.find((v) => v !== base.path[p.name] && v !== 'salesforce');
      add(`path ${p.name}=${JSON.stringify(unused)} (in its enum, not the fixture's)`, 404, (r) => {
        r.path[p.name] = String(unused);
      });
    }
    add(`path ${p.name} with malformed percent-encoding`, '4xx', (r) => {
      r.path[p.name] = '%E0%A4%A';
      r.rawPath = true;
    });
  }

  // Once per path: a method the spec does not declare there.
  const declared = METHODS.filter((m) => op.doc.paths[op.path]?.[m]).map((m) => m.toUpperCase());
  if (declared[0] === op.method && !declared.includes('PATCH'))
    add('undeclared method PATCH', 404, (r) => {
      r.method = 'PATCH';
    });

  for (const c of bodyCases(op, base.json, 'not-5xx'))
    add(
      c.name,
      c.expect,
      (r) => {
        delete r.json;
        if ('json' in c) r.json = c.json;
        if (c.raw !== undefined) r.raw = c.raw;
        if (c.contentType !== undefined) r.contentType = c.contentType;
      },
      c.names && `body/${c.names}`,
    );
  return cases;
}

async function send(baseUrl: string, c: Case): Promise<Outcome> {
  let path = c.op.path;
  for (const [k, v] of Object.entries(c.req.path))
    path = path.replace(`{${k}}`, c.req.rawPath ? v : encodeURIComponent(v));
  const url = new URL(`/mgmt/v2${path}`, baseUrl);
  for (const [k, v] of Object.entries(c.req.query)) url.searchParams.set(k, v);
  const headers = { ...c.req.headers };
  const body = c.req.raw ?? (c.req.json === undefined ? undefined : JSON.stringify(c.req.json));
  if (c.req.contentType ?? body !== undefined)
    headers['content-type'] = c.req.contentType ?? 'application/json';
  const res = await fetch(url, { method: c.req.method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: reported as text
  }
  return { c, status: res.status, body: parsed, contentType: res.headers.get('content-type') };
}

/** What is wrong with an outcome, as a line naming the operation and case; empty when right. */
function problems(o: Outcome): string[] {
  const { c, status, body } = o;
  const found: string[] = [];
  const error =
    isObject(body) && Array.isArray(body.errors) ? ((body.errors[0] ?? {}) as Record<string, unknown>) : {};
  const detail = typeof error.detail === 'string' ? error.detail : '';
  if (!statusIs(c.expect, status)) found.push(`expected ${c.expect}`);
  if (status >= 400) {
    if (!o.contentType?.includes('application/json')) found.push(`content-type ${o.contentType}`);
    for (const key of ['id', 'title', 'detail', 'problem_type', 'code'])
      if (typeof error[key] !== 'string' || error[key] === '') found.push(`errors[0].${key} missing`);
    if (error.status !== String(status)) found.push(`errors[0].status ${JSON.stringify(error.status)}`);
    const meta = error.meta as { origin?: unknown } | undefined;
    if (typeof meta?.origin !== 'string') found.push('errors[0].meta.origin missing');
  }
  // The route's own 404, not the catch-all for paths no operation matches.
  if (status === 404 && c.name !== 'undeclared method PATCH' && detail.startsWith('no operation'))
    found.push('the request reached no operation');
  if (c.names && status === 400 && !detail.includes(c.names)) found.push(`detail does not name ${c.names}`);
  if (found.length === 0) return [];
  const shown = JSON.stringify(body).slice(0, 600);
  return [
    `${c.op.id} (${c.op.method} ${c.op.path}) "${c.name}": got ${status} ${shown} — ${found.join('; ')}`,
  ];
}

/** Everything a client can read about the fixture, by request; compared before and after. */
async function snapshot(
  t: TestTrellis,
  fx: Fixture,
): Promise<Record<string, { status: number; body?: unknown }>> {
  const api = client(t.baseUrl, t.apiKey);
  const c = `/customers/${fx.customerId}`;
  const conn = connectionHeaders(fx);
  const reads: [string, string, Record<string, string>?][] = [
    ['customers', '/customers'],
    ['customer', c],
    ['connections', `${c}/connections`],
    ['hubspot connection', `${c}/connections/hubspot`],
    ['apollo connection', `${c}/connections/apollo`],
    ['destinations', '/destinations'],
    ['destination', `/destinations/${fx.destinationId}`],
    ['providers', '/providers'],
    ['hubspot provider', `/providers/${fx.hubspotProviderId}`],
    ['salesforce provider', `/providers/${fx.salesforceProviderId}`],
    ['schemas', '/schemas'],
    ['schema', `/schemas/${fx.schemaId}`],
    ['entities', '/entities'],
    ['entity', `/entities/${fx.entityId}`],
    ['sync configs', '/sync_configs'],
    ['sync config', `/sync_configs/${fx.syncConfigId}`],
    ['magic links', '/magic_links'],
    ['webhooks', '/webhooks'],
    ['syncs', '/syncs'],
    ['field mappings', '/field_mappings', conn],
    ['entity mappings', '/entity_mappings', conn],
    ['connection sync config', '/connection_sync_configs', conn],
  ];
  const out: Record<string, { status: number; body?: unknown }> = {};
  for (const [name, path, headers] of reads) {
    const res = await api('GET', path, headers ? { headers } : {});
    // An error body is compared by status only: its id is new every time.
    out[name] = res.status === 200 ? { status: res.status, body: res.body } : { status: res.status };
  }
  return out;
}

describe('Management API v2 rejects bad input (cases generated from the spec)', () => {
  let t: TestTrellis;
  let fx: Fixture;
  let before: Awaited<ReturnType<typeof snapshot>>;
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    t = await startTrellis();
    fx = await createFixture(client(t.baseUrl, t.apiKey));
    before = await snapshot(t, fx);
  });
  afterAll(() => t?.stop());

  it('covers every operation the server implements', () => {
    expect(OPERATIONS.map((o) => o.id).sort()).toEqual([...OPERATION_IDS].sort());
  });

  for (const op of OPERATIONS) {
    it(`${op.id} (${op.method} ${op.path})`, async () => {
      const results = await inPool(casesFor(op, fx, t.apiKey), 8, (c) => send(t.baseUrl, c));
      outcomes.push(...results);
      const failures = results.flatMap(problems);
      expect(failures, `${failures.length} of ${results.length} cases failed`).toEqual([]);
    });
  }

  it('answered nothing with a 5xx, logged no error and kept the fixture intact', async () => {
    expect(outcomes.length).toBeGreaterThan(0);
    const fivexx = outcomes
      .filter((o) => o.status >= 500)
      .map((o) => `${o.c.op.id} "${o.c.name}": ${o.status}`);
    expect.soft(fivexx, 'requests answered with a 5xx').toEqual([]);

    const errors = t.logs
      .filter((l) => l.level >= 50)
      .map((l) => ({
        msg: l.msg,
        err: (l.err as { message?: string } | undefined)?.message,
        url: (l.req as { url?: string } | undefined)?.url,
      }));
    expect.soft(errors, 'server log entries at level error or fatal').toEqual([]);

    const after = await snapshot(t, fx);
    expect.soft(after, 'what the API shows of the fixture changed').toEqual(before);

    // What the fixture created is all there.
    const body = (name: string) => {
      expect(after[name]?.status, `GET ${name}`).toBe(200);
      return after[name]?.body;
    };
    expect(body('customer')).toEqual({
      application_id: expect.any(String),
      customer_id: fx.customerId,
      name: 'Customer a',
      email: 'a@example.test',
    });
    expect(body('destination')).toMatchObject({
      id: fx.destinationId,
      name: fx.destinationName,
      type: 'postgres',
      config: { host: '127.0.0.1', port: 5432, database: 'wh', schema: 'public', user: 'loader' },
      version: 1,
    });
    // Apollo's provider was made by its (API key) connection.
    expect((body('providers') as { name: string }[]).map((p) => p.name).sort()).toEqual([
      'apollo',
      'hubspot',
      'salesforce',
    ]);
    expect(body('hubspot provider')).toMatchObject({
      name: 'hubspot',
      category: 'crm',
      objects: { standard: [{ name: 'contacts', schema_id: fx.schemaId }] },
      entity_mappings: [{ entity_id: fx.entityId }],
    });
    expect(body('salesforce provider')).toMatchObject({ name: 'salesforce', category: 'crm' });
    expect(body('schema')).toMatchObject({ id: fx.schemaId, name: 'contact-schema-a' });
    expect(body('entity')).toMatchObject({ id: fx.entityId, name: 'person-a' });
    expect(body('sync config')).toEqual({
      id: fx.syncConfigId,
      application_id: expect.any(String),
      destination_name: fx.destinationName,
      provider_name: 'hubspot',
      config: {
        default_config: {
          period_ms: 3_600_000,
          strategy: 'full then incremental',
          auto_start_on_connection: true,
        },
        standard_objects: [{ object: 'contacts' }, { object: 'companies' }],
      },
    });
    expect((body('connections') as { id: string }[]).map((c) => c.id)).toEqual([
      fx.apolloConnectionId,
      fx.hubspotConnectionId,
    ]);
    expect((body('magic links') as { id: string }[]).map((m) => m.id)).toEqual([fx.magicLinkId]);
    expect((body('webhooks') as { id: string }[]).map((w) => w.id)).toEqual([fx.webhookId]);
    expect((body('syncs') as { total_count: number }).total_count).toBe(2);
    expect(after['connection sync config']?.status).toBe(404);
  });
});
