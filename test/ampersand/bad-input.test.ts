import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMPERSAND_CONTRACT } from '../../src/api/ampersand/openapi.ts';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem, SERVED_ELSEWHERE, SERVED as SERVED_OPERATIONS } from '../helpers/ampersand.ts';
import { type ApiResponse, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Bad input against every operation of the Platform API document, generated from it: bad
 * credentials, paths naming other projects or nothing, query values of the wrong type, over their
 * limit, repeated or holding NUL, and bodies that are not JSON, broken or too large. Every answer
 * must be a 4xx in problem+json, except that an operation Trellis does not serve answers its 501
 * once the request is authenticated and its project checked, whatever else is wrong. Nothing may
 * answer another 5xx, the server may log no error, and the project's data must be as it was.
 */

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: { type?: string; enum?: string[]; $ref?: string; maxLength?: number };
}
interface DocumentOperation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: unknown;
}

/** Every operation Trellis serves; the others answer 501. */
const SERVED = new Set([...SERVED_OPERATIONS, ...Object.keys(SERVED_ELSEWHERE)]);
/**
 * Served operations that take a body: one they accept, so that each case is wrong in one way only,
 * and what they answer to it here. No provider is reachable in this test, so a connection's
 * credentials cannot be checked (422) and nothing is saved.
 */
const VALID_REQUESTS: Record<string, { body: unknown; answers: number }> = {
  generateConnection: {
    body: { groupRef: 'acme', consumerRef: 'user-1', provider: 'apollo', apiKey: 'apollo-key' },
    answers: 422,
  },
  updateConnection: {
    body: { updateMask: ['providerMetadata'], connection: { providerMetadata: {} } },
    answers: 200,
  },
  createProviderApp: {
    body: { provider: 'hubspot', clientId: 'hs-client', clientSecret: 'hs-secret' },
    answers: 200,
  },
  updateProviderApp: { body: { updateMask: ['scopes'], providerApp: { scopes: ['oauth'] } }, answers: 200 },
  createDestination: {
    body: { name: 'hooks-2', type: 'webhook', metadata: { url: 'http://127.0.0.1:9/hooks' } },
    answers: 201,
  },
  updateDestination: { body: { updateMask: ['name'], destination: { name: 'hooks' } }, answers: 200 },
  // These requests come from no page (no Origin), which the popup flow refuses.
  oauthConnect: {
    body: { projectIdOrName: 'default', provider: 'hubspot', groupRef: 'acme', consumerRef: 'user-1' },
    answers: 403,
  },
  oauthUpdate: { body: {}, answers: 403 },
};
const NUL = 'a\u0000b';

interface Request {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body?: string;
}
/** The status a case must get: exact, any 4xx, or (where no stored value can match) a 4xx or a 200. */
type Expected = number | '4xx' | 'not-5xx';
interface Case {
  operationId: string;
  name: string;
  req: Request;
  expect: Expected;
}

const operations = Object.entries(AMPERSAND_CONTRACT.document.paths).flatMap(([template, item]) =>
  ['get', 'put', 'post', 'delete', 'patch']
    .filter((method) => item[method])
    .map((method) => {
      const op = item[method] as DocumentOperation;
      return {
        id: op.operationId,
        method: method.toUpperCase(),
        template,
        params: op.parameters ?? [],
        hasBody: op.requestBody !== undefined,
      };
    }),
);

describe('bad input to the Platform API', () => {
  let t: TestTrellis;
  let otherProject: string;
  let connectionsBefore: unknown;
  /** Ids of the fixture's rows that operations name in their paths. */
  const fixture = { providerAppId: '', destination: '' };
  const outcomes: { c: Case; res: ApiResponse }[] = [];

  const listConnections = () => client(t.baseUrl, t.apiKey, '/v1')('GET', '/projects/default/connections');

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false } });
    const mgmt = client(t.baseUrl, t.apiKey);
    await mgmt('PUT', '/customers', { body: { customer_id: 'acme', name: 'Acme', email: 'a@acme.test' } });
    const made = await mgmt('POST', '/customers/acme/connections', {
      body: { provider_name: 'apollo', type: 'api_key', api_key: 'apollo-key' },
    });
    expect(made.status).toBe(200);
    const v1 = client(t.baseUrl, t.apiKey, '/v1');
    const app = await v1('POST', '/projects/default/provider-apps', {
      body: { provider: 'salesforce', clientId: 'sf-client', clientSecret: 'sf-secret' },
    });
    expect(app.status).toBe(200);
    fixture.providerAppId = app.body.id;
    const hooks = await v1('POST', '/projects/default/destinations', {
      body: { name: 'hooks', type: 'webhook', metadata: { url: 'http://127.0.0.1:9/hooks' } },
    });
    expect(hooks.status).toBe(201);
    fixture.destination = hooks.body.id;
    otherProject = (await createProject(t.runtime.deps.db, 'other')).project.name;
    connectionsBefore = (await listConnections()).body;
    expect(connectionsBefore).toHaveLength(1);
  });
  afterAll(() => t?.stop());

  /** The bad requests of one operation, each otherwise valid. */
  function casesFor(op: (typeof operations)[number], connectionId: string): Case[] {
    const served = SERVED.has(op.id);
    const open = AMPERSAND_CONTRACT.operation(op.id)!.public;
    // Deletions aim at nothing, so that the data stays; reads at the fixture's connection.
    const values: Record<string, string> = {
      projectIdOrName: 'default',
      connectionId: op.method === 'DELETE' ? randomUUID() : connectionId,
      providerAppId: op.method === 'DELETE' ? randomUUID() : fixture.providerAppId,
      destination: op.method === 'DELETE' ? randomUUID() : fixture.destination,
      provider: 'hubspot',
    };
    const valid = VALID_REQUESTS[op.id];
    const pathOf = (override: Record<string, string> = {}) =>
      op.template.replace(/\{([^}]+)\}/g, (_m, name: string) =>
        encodeURIComponent(override[name] ?? values[name] ?? 'x'),
      );
    const base: Request = {
      method: op.method,
      path: pathOf(),
      query: [],
      headers: { 'x-api-key': t.apiKey },
      ...(op.hasBody ? { body: valid ? JSON.stringify(valid.body) : '{}' } : {}),
    };
    const cases: Case[] = [];
    const add = (name: string, expected: Expected, change: (r: Request) => void) => {
      const req = structuredClone(base);
      change(req);
      cases.push({ operationId: op.id, name, req, expect: expected });
    };
    /** What a request that is wrong only past authentication and the project check gets. */
    const past = (whenServed: Expected): Expected => (served ? whenServed : 501);

    if (!open) {
      add('no x-api-key', 401, (r) => delete r.headers['x-api-key']);
      add('wrong x-api-key', 401, (r) => {
        r.headers['x-api-key'] = 'trls_not-a-key';
      });
      add('x-api-key with its last character changed', 401, (r) => {
        r.headers['x-api-key'] = t.apiKey.slice(0, -1) + (t.apiKey.endsWith('A') ? 'B' : 'A');
      });
      add('a bearer token instead', 401, (r) => {
        delete r.headers['x-api-key'];
        r.headers.authorization = 'Bearer e30.e30.e30';
      });
    }
    // Whether the request is otherwise valid: every path value names something the fixture has,
    // no required query parameter is missing, and the body is one the operation accepts (its valid
    // request's) or none is required (the base body is `{}`).
    const resolvable =
      op.params.filter((p) => p.in === 'path').every((p) => p.name in values) &&
      !op.params.some((p) => p.in === 'query' && p.required) &&
      (valid !== undefined || !(op.hasBody && ['POST', 'PUT', 'PATCH'].includes(op.method)));
    for (const param of op.params.filter((p) => p.in === 'path')) {
      // A body that breaks the contract may be refused (400) before the missing thing is looked up,
      // and a request the operation refuses whoever sends it (403: the popup flow without a page's
      // Origin) is refused before anything is looked up.
      const notFound: Expected =
        param.name === 'projectIdOrName'
          ? 404
          : past(valid?.answers === 403 ? 403 : resolvable ? 404 : '4xx');
      for (const [label, value, expected] of [
        ['names nothing', 'nothing-here', notFound],
        ['is another project', otherProject, notFound],
        ['is SQL', "'; drop table connections; --", notFound],
        ['is 2000 characters', 'x'.repeat(2000), notFound],
        ['holds NUL', NUL, param.name === 'projectIdOrName' ? '4xx' : past('4xx')],
        ['is an RTL override and emoji', '\u202e😀', notFound],
      ] as const) {
        if (param.name === 'provider' && value === otherProject) continue;
        add(`path ${param.name} ${label}`, expected, (r) => {
          r.path = pathOf({ [param.name]: value });
        });
      }
    }
    for (const param of op.params.filter((p) => p.in === 'query')) {
      const type = param.schema?.type;
      const set = (value: string) => (r: Request) => {
        r.query.push([param.name, value]);
      };
      add(`query ${param.name} given twice`, past(400), (r) => {
        r.query.push([param.name, 'a'], [param.name, 'b']);
      });
      if (type === 'boolean') add(`query ${param.name} not a boolean`, past(400), set('maybe'));
      if (type === 'integer' || type === 'number')
        add(`query ${param.name} not a number`, past(400), set('many'));
      if (param.schema?.enum) add(`query ${param.name} not one of its values`, past(400), set('bogus'));
      if (type === 'string' && !param.schema?.enum) {
        // Over the limit the served document gives it. Long text (page tokens) may be longer than
        // a request line may be: Node's HTTP parser answers that with 431 before any surface.
        const limit = param.schema?.maxLength ?? AMPERSAND_CONTRACT.limits.maxLength;
        if (limit < 8_000) add(`query ${param.name} over its length`, past(400), set('q'.repeat(limit + 1)));
        // NUL in a filter value: no stored text holds one, so "nothing matches" or a 400.
        add(`query ${param.name} holds NUL`, past('not-5xx'), set(NUL));
      }
    }
    add(
      'unknown query parameter (ignored)',
      past(!resolvable ? '4xx' : (valid?.answers ?? (op.method === 'DELETE' ? 404 : 200))),
      (r) => {
        r.query.push(['__proto__', '1']);
      },
    );
    // Bodies are read (and refused) before the operation runs, wherever one is sent.
    if (op.method !== 'GET') {
      add('body not JSON', past(415), (r) => {
        r.body = '<a/>';
        r.headers['content-type'] = 'application/xml';
      });
      add('body broken JSON', past(400), (r) => {
        r.body = '{"a":';
      });
      add('body nested too deep', past(400), (r) => {
        r.body = `${'['.repeat(64)}${']'.repeat(64)}`;
      });
      add('body with a lone surrogate', past(400), (r) => {
        r.body = '{"a":"\\ud800"}';
      });
      add('body over the limit', past(413), (r) => {
        r.body = JSON.stringify({ a: 'x'.repeat(AMPERSAND_CONTRACT.limits.maxBodyBytes) });
      });
    }
    // No body, or an empty one: every operation that takes a body needs one to do anything, also
    // where the document leaves it optional (connections:generate).
    if (op.hasBody) {
      add('no body', past(400), (r) => {
        delete r.body;
      });
      add('empty JSON body', past(400), (r) => {
        r.body = '';
      });
    }
    if (op.hasBody && !served)
      add('body of the wrong type', 501, (r) => {
        r.body = '[1,2,3]';
      });
    return cases;
  }

  async function send(req: Request): Promise<ApiResponse> {
    const url = new URL(`/v1${req.path}`, t.baseUrl);
    for (const [k, v] of req.query) url.searchParams.append(k, v);
    const headers = {
      ...req.headers,
      ...(req.body !== undefined ? { 'content-type': 'application/json', ...req.headers } : {}),
    };
    const res = await fetch(url, { method: req.method, headers, body: req.body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : '' };
  }

  it('answers every bad request with a 4xx problem (or the operation’s 501), never another 5xx', async () => {
    const connectionId = (connectionsBefore as { id: string }[])[0]!.id;
    const cases = operations.flatMap((op) => casesFor(op, connectionId));
    expect(cases.length).toBeGreaterThan(500);
    const wrong: string[] = [];
    for (const c of cases) {
      const res = await send(c.req);
      outcomes.push({ c, res });
      const ok =
        c.expect === '4xx'
          ? res.status >= 400 && res.status < 500
          : c.expect === 'not-5xx'
            ? res.status < 500
            : res.status === c.expect;
      if (!ok)
        wrong.push(
          `${c.operationId} "${c.name}": ${res.status} (expected ${c.expect}) ${JSON.stringify(res.body).slice(0, 200)}`,
        );
      else if (res.status >= 400) expectProblem(res, res.status);
    }
    expect(wrong).toEqual([]);
    expect(outcomes.filter((o) => o.res.status >= 500 && o.res.status !== 501)).toEqual([]);
  });

  it('logged no error, and left the data as it was', async () => {
    const errors = t.logs.filter((l) => l.level >= 50).map((l) => l.msg);
    expect(errors).toEqual([]);
    expect((await listConnections()).body).toEqual(connectionsBefore);
  });
});
