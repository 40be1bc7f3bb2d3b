import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTORS_CONTRACT } from '../../src/api/connectors/openapi.ts';
import { createProject } from '../../src/core/projects.ts';
import {
  BAD_IDS,
  badApiKeys,
  bodyCases,
  type Document,
  documentOperations,
  type Expected,
  fillPath,
  HOSTILE,
  NUL,
  type RequestCase,
  sendCases,
  sendRaw,
  withBody,
} from '../helpers/bad-input.ts';
import { type ConnectorsSetup, startConnectorsApi, storeBody } from '../helpers/connectors-api.ts';
import type { ApiResponse } from '../helpers/trellis.ts';

/**
 * Bad input to the Connectors API (/api/v1/connectors), generated from its document (bodies of the
 * wrong type, required fields left out, enum values it lacks, values past their bounds, broken
 * JSON, other media types) and written for what the document cannot say: bad credentials, ids
 * that name no connector of this project, includes, filters and sorts it does not offer, paging
 * out of bounds, variables it cannot take. Every answer is a 4xx in this API's shape (`{message}`,
 * and `errors` on a 422), never a 5xx, and no refused request leaves a connector behind.
 */

const OPERATIONS = documentOperations(CONNECTORS_CONTRACT.document as unknown as Document);
const PREFIX = '/api/v1/connectors';
const op = (id: string) => OPERATIONS.find((o) => o.id === id)!;

/** Cases the kit refuses before reading the body's values: the JSON itself cannot be read. */
const UNREADABLE = new Set(['malformed JSON', 'JSON with a trailing comma', 'single-quoted JSON']);

/** This API's error shapes: `{message}`, and a 422 with the fields at fault. */
function expectShape(res: ApiResponse): void {
  expect(res.headers.get('content-type')).toContain('application/json');
  expect(typeof res.body.message, JSON.stringify(res.body)).toBe('string');
  if (res.status === 422) {
    expect(Object.keys(res.body.errors).length).toBeGreaterThan(0);
    for (const messages of Object.values(res.body.errors)) expect(messages).toEqual([expect.any(String)]);
  } else {
    expect(Object.keys(res.body)).toEqual(['message']);
  }
}

describe('bad input to the Connectors API', () => {
  let s: ConnectorsSetup;
  let intruderKey: string;
  let connectorId: string;
  const VALID_STORE = storeBody({
    name: 'Fuzzed',
    authentication_implementation_id: 'apollo:api_key',
    variables: [{ key: 'api_key', value: 'not-checked-until-tested' }],
  });

  const request = (method: string, path: string, body?: unknown): RequestCase => ({
    name: 'valid',
    method,
    path: `${PREFIX}${path}`,
    headers: {
      authorization: s.t.apiKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    expect: 200,
  });

  beforeAll(async () => {
    s = await startConnectorsApi();
    intruderKey = (await createProject(s.t.runtime.deps.db, 'intruder')).apiKey;
    const stored = await s.api('POST', '/', { body: VALID_STORE });
    expect(stored.status).toBe(200);
    connectorId = stored.body.data.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  function cases(): RequestCase[] {
    const out: RequestCase[] = [];
    const byId = (id: string) => fillPath(op(id).path, { connector: connectorId });
    const valid: Record<string, () => RequestCase> = {
      connectorsIndex: () => request('GET', '/'),
      connectorsStore: () => request('POST', '/', VALID_STORE),
      connectorsShow: () => request('GET', byId('connectorsShow')),
      connectorsUpdate: () => request('PUT', byId('connectorsUpdate'), { name: 'Renamed' }),
      connectorsTest: () => request('POST', byId('connectorsTest')),
      connectorsDestroy: () => request('DELETE', byId('connectorsDestroy')),
    };
    const add = (id: string, name: string, expected: Expected, change: (c: RequestCase) => void) => {
      const c = { ...valid[id]!(), name: `${id}: ${name}`, expect: expected };
      c.headers = { ...c.headers };
      change(c);
      out.push(c);
    };
    const query = (params: Record<string, string>) => (c: RequestCase) => {
      c.path = `${c.path}?${new URLSearchParams(params)}`;
    };

    for (const id of Object.keys(valid)) {
      for (const [name, key] of badApiKeys(s.t.apiKey))
        add(id, name.replaceAll('x-api-key', 'authorization'), 401, (c) => {
          if (key === undefined) delete c.headers.authorization;
          else c.headers.authorization = key;
        });
      add(id, 'an x-api-key header instead', 401, (c) => {
        c.headers['x-api-key'] = c.headers.authorization!;
        delete c.headers.authorization;
      });
      add(id, 'a JWT as bearer token', 401, (c) => {
        c.headers.authorization = 'Bearer e30.e30.e30';
      });
    }
    for (const id of ['connectorsShow', 'connectorsUpdate', 'connectorsTest', 'connectorsDestroy']) {
      for (const [value, expected] of [...BAD_IDS, [crypto.randomUUID(), 404] as const]) {
        add(id, `connector ${JSON.stringify(value.slice(0, 20))}`, expected, (c) => {
          c.path = `${PREFIX}${fillPath(op(id).path, { connector: value })}`;
        });
      }
      add(id, "another project's key", 404, (c) => {
        c.headers.authorization = intruderKey;
      });
    }
    for (const id of ['connectorsIndex', 'connectorsShow']) {
      for (const [name, params, expected] of [
        ['an include not offered', { include: 'secrets' }, 400],
        ['a nested include not offered', { include: 'variables.value' }, 400],
        ['an include holding NUL', { include: NUL }, 400],
        ['a hostile include', { include: HOSTILE }, 400],
        ['a filter not offered', { 'filter[name]': 'x' }, 400],
        ['a filter without a name', { filter: 'x' }, 400],
        ['a filter of a filter', { 'filter[system][x]': 'y' }, 400],
        ['a sort not offered', { sort: 'created_at' }, 400],
        ['a hostile sort', { sort: HOSTILE }, 400],
        ['per_page 0', { per_page: '0' }, 422],
        ['per_page 101', { per_page: '101' }, 422],
        ['per_page -1', { per_page: '-1' }, 422],
        ['per_page 1.5', { per_page: '1.5' }, 422],
        ['per_page not a number', { per_page: 'ten' }, 400],
        ['page 0', { page: '0' }, 422],
        ['page past any offset', { page: '99999999999' }, 422],
        ['an include over its length', { include: 'variables,'.repeat(500) }, 422],
        ['a hostile filter value', { 'filter[system]': HOSTILE }, id === 'connectorsShow' ? 404 : 200],
        ['a filter value holding NUL', { 'filter[forSession]': NUL }, '4xx'],
      ] as const)
        add(id, name, expected, query(params));
      add(id, 'a parameter given twice', 400, (c) => {
        c.path = `${c.path}?per_page=1&per_page=2`;
      });
    }
    const store = (body: unknown) => (c: RequestCase) => {
      c.body = JSON.stringify(body);
    };
    const variables = (vars: unknown) => store({ ...VALID_STORE, variables: vars });
    add(
      'connectorsStore',
      'an unknown authentication implementation',
      422,
      store({ ...VALID_STORE, authentication_implementation_id: HOSTILE }),
    );
    add(
      'connectorsStore',
      'an OAuth implementation without the project OAuth client',
      422,
      store({
        ...VALID_STORE,
        authentication_implementation_id: 'pipedrive:oauth2',
        variables: [
          { key: 'refresh_token', value: 'r' },
          { key: 'instance_url', value: 'https://acme.pipedrive.com' },
        ],
      }),
    );
    add(
      'connectorsStore',
      "an instance URL that is not the provider's",
      422,
      store({
        ...VALID_STORE,
        authentication_implementation_id: 'hubspot:oauth2',
        variables: [
          { key: 'refresh_token', value: 'r' },
          { key: 'instance_url', value: 'https://evil.example' },
        ],
      }),
    );
    add('connectorsStore', 'the credential variable left out', 422, variables([]));
    add('connectorsStore', 'the credential variable empty', 422, variables([{ key: 'api_key', value: '' }]));
    add('connectorsStore', 'the credential variable null', 422, variables([{ key: 'api_key', value: null }]));
    add(
      'connectorsStore',
      'a variable given twice',
      422,
      variables([
        { key: 'api_key', value: 'a' },
        { key: 'api_key', value: 'b' },
      ]),
    );
    add(
      'connectorsStore',
      'a variable with an empty key',
      422,
      variables([
        { key: 'api_key', value: 'a' },
        { key: '', value: 'b' },
      ]),
    );
    add(
      'connectorsStore',
      'a variable without a key',
      422,
      variables([{ key: 'api_key', value: 'a' }, { value: 'b' }]),
    );
    add(
      'connectorsStore',
      'a variable key holding NUL',
      '4xx',
      variables([
        { key: 'api_key', value: 'a' },
        { key: NUL, value: 'b' },
      ]),
    );
    add(
      'connectorsStore',
      'a time zone that is none',
      422,
      store({ ...VALID_STORE, timezone: 'Nowhere/Never' }),
    );
    add('connectorsStore', 'a rate limit of 0', 422, store({ ...VALID_STORE, rate_limit_duration: 0 }));
    add(
      'connectorsStore',
      'a rate limit past 32 bits',
      422,
      store({ ...VALID_STORE, rate_limit_duration: 2 ** 31 }),
    );
    add(
      'connectorsUpdate',
      'another system',
      422,
      store({ authentication_implementation_id: 'gong:api_key' }),
    );
    add(
      'connectorsUpdate',
      'a variable id of no variable',
      422,
      store({ variables: [{ id: HOSTILE, key: 'api_key' }] }),
    );
    add('connectorsUpdate', 'the credential variable removed', 422, store({ variables: [] }));
    add('connectorsUpdate', 'a time zone that is none', 422, store({ timezone: HOSTILE }));
    add('connectorsUpdate', 'a name of spaces', 422, store({ name: '   ' }));
    add('connectorsIndex', 'a path of no operation', 404, (c) => {
      c.path = `${PREFIX}/${connectorId}/test/more`;
    });
    add('connectorsIndex', 'a method the path does not have', 405, (c) => {
      c.method = 'PATCH';
    });

    for (const id of ['connectorsStore', 'connectorsUpdate'])
      for (const c of bodyCases(op(id), JSON.parse(valid[id]!().body as string), 200)) {
        // Laravel answers every value its rules refuse with 422; a body JSON cannot read is a 400.
        const expected = c.expect === 400 && !UNREADABLE.has(c.name) ? 422 : c.expect;
        out.push(withBody({ ...valid[id]!(), name: `${id}: ${c.name}` }, { ...c, expect: expected }));
      }
    return out;
  }

  it('refuses every bad request with a 4xx in its shape, and keeps no connector of a refused one', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(150);
    const { outcomes, wrong } = await sendCases(s.t.baseUrl, all, expectShape);
    expect(wrong).toEqual([]);
    // Only the stores accepted (an optional part left out, say) made connectors.
    const accepted = outcomes.filter(
      (o) => o.c.method === 'POST' && o.res.status === 200 && o.c.path === PREFIX,
    );
    const listed = await s.api('GET', '/', { query: { per_page: '100' } });
    expect(listed.body.meta.total).toBe(1 + accepted.length);
  });

  it('answers the requests the cases were made from', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', `/${connectorId}`],
      ['PUT', `/${connectorId}`],
    ] as const) {
      const res = await sendRaw(
        s.t.baseUrl,
        request(method, path, method === 'PUT' ? { name: 'x' } : undefined),
      );
      expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBe(200);
    }
  });

  it('logged no error', () => {
    expect(s.t.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });
});
