import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSurfaces, buildServer } from '../../src/api/server.ts';
import { compileContract, type OpenApiDocument, servedDocument } from '../../src/api/surface/contract.ts';
import { httpStatus, type RenderError, RequestRefused } from '../../src/api/surface/errors.ts';
import { type ApiSurface, apiSurface } from '../../src/api/surface/plugin.ts';
import { conflict, DomainError, notFound } from '../../src/core/errors.ts';
import { startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * A second surface beside the Management API, with an error shape of its own (problem details),
 * mounted the way every surface is: each kind of failure has to come back in its shape.
 */
const WIDGETS_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Widgets', version: '1' },
  paths: {
    '/widgets': {
      get: {
        operationId: 'listWidgets',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } }],
      },
      post: {
        operationId: 'createWidget',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/widget' } } },
        },
      },
    },
    // OpenAPI's default: a body is optional unless the document says it is required.
    '/widgets/{widget_id}/polish': {
      post: {
        operationId: 'polishWidget',
        parameters: [{ name: 'widget_id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { shine: { type: 'integer' } },
                additionalProperties: false,
              },
            },
          },
        },
      },
    },
    '/widgets/{widget_id}': {
      parameters: [{ name: 'widget_id', in: 'path', required: true, schema: { type: 'string' } }],
      get: { operationId: 'getWidget' },
      delete: { operationId: 'deleteWidget' },
    },
    '/failures/{kind}': { get: { operationId: 'fail' } },
    '/colours/{colour}': {
      get: {
        operationId: 'getColour',
        parameters: [
          { name: 'colour', in: 'path', required: true, schema: { type: 'string', enum: ['red', 'green'] } },
        ],
      },
    },
    '/catalog': { get: { operationId: 'listCatalog', security: [] } },
  },
  components: {
    schemas: {
      widget: {
        type: 'object',
        properties: { name: { type: 'string' }, token: { type: 'string' }, size: { type: 'integer' } },
        required: ['name'],
        additionalProperties: false,
      },
    },
  },
};

const WIDGET_KEY = 'widget-key';
const WIDGET_PROJECT = 'widget-project';

const renderProblem: RenderError = (error, reply) => {
  const status = httpStatus(error);
  const refused = error instanceof RequestRefused ? error : undefined;
  if (refused?.reason === 'method_not_allowed') reply.header('allow', refused.allowedMethods.join(', '));
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `urn:widgets:${error.reason ?? error.kind}`,
      status,
      detail: error.message,
      ...(refused && refused.issues.length > 0 ? { issues: refused.issues } : {}),
    });
};

const widgetsContract = compileContract(WIDGETS_DOCUMENT, {
  longText: ['token'],
  limits: { maxBodyBytes: 2048 },
});

const widgets: ApiSurface = {
  prefix: '/widgets/v1',
  title: 'Widgets API',
  contract: widgetsContract,
  document: (publicUrl) =>
    servedDocument(widgetsContract, { url: `${publicUrl}/widgets/v1`, title: 'Widgets API' }),
  renderError: renderProblem,
  authenticate: async (req) => {
    if (req.headers['x-widget-key'] !== WIDGET_KEY) throw new DomainError('unauthorized', 'no widget key');
    return WIDGET_PROJECT;
  },
  routes: async (app) => {
    app.get('/widgets', { config: { operationId: 'listWidgets' } }, async (req) => ({
      project: req.projectId,
      widgets: [],
    }));
    app.post<{ Body: { name: string } }>(
      '/widgets',
      { config: { operationId: 'createWidget' } },
      async (req, reply) => {
        if (req.body.name === 'taken') throw conflict('a widget named taken exists');
        return reply.code(201).send({ name: req.body.name });
      },
    );
    app.post<{ Body: { shine?: number } | undefined }>(
      '/widgets/:widget_id/polish',
      { config: { operationId: 'polishWidget' } },
      async (req) => ({ shine: req.body?.shine ?? 1 }),
    );
    app.get<{ Params: { widget_id: string } }>(
      '/widgets/:widget_id',
      { config: { operationId: 'getWidget' } },
      async (req) => {
        throw notFound(`widget ${req.params.widget_id}`);
      },
    );
    app.delete('/widgets/:widget_id', { config: { operationId: 'deleteWidget' } }, async (_req, reply) =>
      reply.code(204).send(),
    );
    app.get<{ Params: { colour: string } }>(
      '/colours/:colour',
      { config: { operationId: 'getColour' } },
      async (req) => ({ colour: req.params.colour }),
    );
    app.get('/catalog', { config: { operationId: 'listCatalog' } }, async (req) => ({
      project: req.projectId,
    }));
    app.get<{ Params: { kind: string } }>(
      '/failures/:kind',
      { config: { operationId: 'fail' } },
      async (req) => {
        if (req.params.kind === 'provider')
          throw new DomainError('remote_provider', 'the provider said no', { reason: 'rate_limited' });
        throw new Error('a fault with details nobody outside should see');
      },
    );
  },
};

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('API surface kit', () => {
  let t: TestTrellis;
  let app: FastifyInstance;
  let baseUrl: string;

  const request = async (
    method: string,
    path: string,
    opts: { body?: string; contentType?: string; key?: string | null } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (opts.key !== null) headers['x-widget-key'] = opts.key ?? WIDGET_KEY;
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: opts.body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
  };
  /** A widgets answer in the widgets shape; returns its body. */
  const problem = async (answer: Promise<Answer>, status: number, type: string) => {
    const a = await answer;
    expect(a.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(a.body).toMatchObject({ type: `urn:widgets:${type}`, status });
    expect(a.status).toBe(status);
    expect(typeof a.body.detail).toBe('string');
    return a.body;
  };

  beforeAll(async () => {
    // The database and the Management API's keys, without the runtime's own server.
    t = await startTrellis({ roles: { api: false, worker: false } });
    app = await buildServer(t.runtime.deps, [...apiSurfaces(t.runtime.deps), widgets]);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    t.config.publicUrl = baseUrl;
  });
  afterAll(async () => {
    await app?.close();
    await t?.stop();
  });

  it('serves a valid request with the project its credentials name', async () => {
    const list = await request('GET', '/widgets/v1/widgets?limit=5');
    expect(list).toMatchObject({ status: 200, body: { project: WIDGET_PROJECT, widgets: [] } });
    expect((await request('POST', '/widgets/v1/widgets', { body: '{"name":"a"}' })).status).toBe(201);
  });

  it('answers framework refusals in the surface shape', async () => {
    await problem(request('GET', '/widgets/v1/nothing/here'), 404, 'unknown_operation');
    const refused = await request('PATCH', '/widgets/v1/widgets/w1');
    await problem(Promise.resolve(refused), 405, 'method_not_allowed');
    expect(refused.headers.get('allow')).toBe('GET, DELETE, HEAD');
    await problem(
      request('POST', '/widgets/v1/widgets', { body: '<widget/>', contentType: 'application/xml' }),
      415,
      'unsupported_media_type',
    );
    await problem(
      request('POST', '/widgets/v1/widgets', { body: JSON.stringify({ name: 'x'.repeat(4096) }) }),
      413,
      'body_too_large',
    );
    await problem(request('POST', '/widgets/v1/widgets', { body: '{"name":' }), 400, 'malformed_request');
    // The router cannot decode this path: no plugin is reached, and the server still knows whose it is.
    await problem(request('GET', '/widgets/v1/widgets/%E0%A4%A'), 400, 'bad_url');
  });

  it('answers credentials it does not accept in the surface shape, before anything else', async () => {
    await problem(request('GET', '/widgets/v1/widgets', { key: null }), 401, 'unauthorized');
    await problem(request('GET', '/widgets/v1/nothing', { key: 'wrong' }), 401, 'unauthorized');
  });

  it('asks no credentials for an operation the document opens to everyone (security: [])', async () => {
    expect(await request('GET', '/widgets/v1/catalog', { key: null })).toMatchObject({
      status: 200,
      body: { project: '' },
    });
    expect(widgetsContract.operation('listCatalog')?.public).toBe(true);
    expect(widgetsContract.operation('listWidgets')?.public).toBe(false);
  });

  it('validates every request against its operation and names what is wrong', async () => {
    const invalid = await problem(
      request('POST', '/widgets/v1/widgets', { body: '{"name":5}' }),
      400,
      'invalid_input',
    );
    expect(invalid).toMatchObject({
      detail: 'body/name must be string',
      issues: [{ in: 'body', name: '/name', detail: 'must be string' }],
    });
    await problem(
      request('POST', '/widgets/v1/widgets', { body: '{"name":"a","b":1}' }),
      400,
      'invalid_input',
    );
    await problem(request('POST', '/widgets/v1/widgets'), 400, 'missing_input');
    const deep = `${'['.repeat(40)}${']'.repeat(40)}`;
    await problem(request('POST', '/widgets/v1/widgets', { body: deep }), 400, 'invalid_input');
    // A lone surrogate is no character: refused before it is parsed.
    await problem(
      request('POST', '/widgets/v1/widgets', { body: '{"name":"\\ud800"}' }),
      400,
      'invalid_input',
    );
    expect(
      await problem(request('GET', '/widgets/v1/widgets?limit=many'), 400, 'malformed_request'),
    ).toMatchObject({ detail: 'query parameter limit must be a number' });
    await problem(request('GET', '/widgets/v1/widgets?limit=0'), 400, 'invalid_input');
    await problem(request('GET', '/widgets/v1/widgets?limit=1&limit=2'), 400, 'malformed_request');
    // The kit's limits reach every string the document leaves unbounded; long text has the larger one.
    const name = 'n'.repeat(widgetsContract.limits.maxLength + 1);
    await problem(
      request('POST', '/widgets/v1/widgets', { body: JSON.stringify({ name }) }),
      400,
      'invalid_input',
    );
    const token = 't'.repeat(1024);
    expect(
      (await request('POST', '/widgets/v1/widgets', { body: JSON.stringify({ name: 'a', token }) })).status,
    ).toBe(201);
  });

  it('checks path parameters against their schemas, decoded, as it checks the query', async () => {
    expect(await request('GET', '/widgets/v1/colours/red')).toMatchObject({
      status: 200,
      body: { colour: 'red' },
    });
    expect((await request('GET', '/widgets/v1/colours/%67reen')).body).toEqual({ colour: 'green' });
    const refused = await problem(request('GET', '/widgets/v1/colours/blue'), 400, 'invalid_input');
    expect(refused).toMatchObject({
      detail: 'path parameter colour must be one of: red, green',
      issues: [{ in: 'path', name: 'colour', detail: 'must be one of: red, green' }],
    });
    // Credentials are still asked for first.
    await problem(request('GET', '/widgets/v1/colours/blue', { key: null }), 401, 'unauthorized');
  });

  it('takes a request without a body exactly where the document leaves the body optional', async () => {
    const polish = (opts: { body?: string; contentType?: string } = {}) =>
      request('POST', '/widgets/v1/widgets/w1/polish', opts);
    expect(await polish()).toMatchObject({ status: 200, body: { shine: 1 } });
    // An empty body is no body, whatever its content-type says.
    expect(await polish({ body: '' })).toMatchObject({ status: 200, body: { shine: 1 } });
    expect(await polish({ body: '{"shine":3}' })).toMatchObject({ status: 200, body: { shine: 3 } });
    // A body that is there is held to its schema; JSON's null is a body.
    await problem(polish({ body: 'null' }), 400, 'invalid_input');
    await problem(polish({ body: '{"shine":"bright"}' }), 400, 'invalid_input');
    await problem(polish({ body: '{"shine":' }), 400, 'malformed_request');
    await problem(polish({ body: ' ' }), 400, 'malformed_request');

    // Where the document requires it, none is refused alike, sent empty or not at all.
    for (const body of [undefined, '']) {
      const missing = await problem(request('POST', '/widgets/v1/widgets', { body }), 400, 'missing_input');
      expect(missing).toMatchObject({
        detail: 'a JSON request body is required',
        issues: [{ in: 'body', name: '', detail: 'is required' }],
      });
    }
    // Nor does an operation without a body mind an empty one sent with a JSON content-type.
    expect((await request('DELETE', '/widgets/v1/widgets/w1', { body: '' })).status).toBe(204);
    expect(() =>
      widgetsContract.validateRequest('polishWidget', {
        body: undefined,
        headers: {},
        query: {},
        path: { widget_id: 'w1' },
      }),
    ).not.toThrow();
    expect(() =>
      widgetsContract.validateRequest('createWidget', { body: undefined, headers: {}, query: {}, path: {} }),
    ).toThrow(RequestRefused);
  });

  it('renders errors thrown by handlers in the surface shape', async () => {
    await problem(request('POST', '/widgets/v1/widgets', { body: '{"name":"taken"}' }), 409, 'conflict');
    await problem(request('GET', '/widgets/v1/widgets/w1'), 404, 'not_found');
    await problem(request('GET', '/widgets/v1/failures/provider'), 502, 'rate_limited');
    const fault = await problem(request('GET', '/widgets/v1/failures/internal'), 500, 'internal');
    expect(fault.detail).not.toContain('details nobody outside');
    expect(t.logs.some((l) => l.msg === 'unhandled error')).toBe(true);
  });

  it('leaves the Management API in its own shape beside it', async () => {
    const mgmt = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${baseUrl}/mgmt/v2${path}`, {
        ...init,
        headers: { 'x-api-key': t.apiKey, 'content-type': 'application/json', ...init.headers },
      });
      return { status: res.status, body: (await res.json()) as { errors: Record<string, unknown>[] } };
    };
    expect(await mgmt('/nothing')).toMatchObject({
      status: 404,
      body: {
        errors: [{ code: 'NOT_FOUND_ERROR', status: '404', detail: 'no operation GET /mgmt/v2/nothing' }],
      },
    });
    expect(await mgmt('/customers', { method: 'PUT', body: '{"customer_id":5}' })).toMatchObject({
      status: 400,
      body: { errors: [{ code: 'VALIDATION_ERROR', title: 'Bad request', meta: { origin: 'supaglue' } }] },
    });
    expect(await mgmt('/customers/%E0%A4%A')).toMatchObject({
      status: 400,
      body: { errors: [{ code: 'BAD_REQUEST', status: '400' }] },
    });
  });

  it('lists every surface document at /docs', async () => {
    const page = await fetch(`${baseUrl}/docs`);
    const html = await page.text();
    expect(html).toContain(
      '{"url":"/mgmt/v2/openapi.json","name":"Trellis Management API (v2, Supaglue dialect)"}',
    );
    expect(html).toContain('{"url":"/widgets/v1/openapi.json","name":"Widgets API"}');
    // The page's one inline script is allowed by its hash, list and all.
    const script = /<script>([^<]*)<\/script>/.exec(html)?.[1] ?? '';
    expect(page.headers.get('content-security-policy')).toContain(
      `'sha256-${createHash('sha256').update(script).digest('base64')}'`,
    );
    const doc = (await (await fetch(`${baseUrl}/widgets/v1/openapi.json`)).json()) as OpenApiDocument;
    expect(doc.info.title).toBe('Widgets API');
    expect(doc.servers).toEqual([{ url: `${baseUrl}/widgets/v1`, description: 'This Trellis server' }]);
    const mgmtDoc = (await (await fetch(`${baseUrl}/mgmt/v2/openapi.json`)).json()) as OpenApiDocument;
    expect(Object.keys(mgmtDoc.paths)).toContain('/customers');
  });

  it("leads from the server's own address to the console", async () => {
    const root = await fetch(`${baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console');
    const followed = await fetch(`${baseUrl}/`);
    expect(followed.url).toBe(`${baseUrl}/console`);
    expect(await followed.text()).toContain('<title>Trellis console</title>');
  });
});

describe('compileContract', () => {
  it('looks operations up by id and knows the methods of each path', () => {
    expect(widgetsContract.operationIds).toEqual([
      'listWidgets',
      'createWidget',
      'polishWidget',
      'getWidget',
      'deleteWidget',
      'fail',
      'getColour',
      'listCatalog',
    ]);
    expect(widgetsContract.operation('getWidget')).toEqual({
      operationId: 'getWidget',
      method: 'GET',
      path: '/widgets/{widget_id}',
      pathParameters: ['widget_id'],
      public: false,
    });
    expect(widgetsContract.operation('nope')).toBeUndefined();
    expect(widgetsContract.methodsAt('/widgets/abc')).toEqual(['GET', 'DELETE', 'HEAD']);
    expect(widgetsContract.methodsAt('/gadgets')).toEqual([]);
  });

  it('writes its limits into a copy of the document', () => {
    const schema = (
      widgetsContract.document.components as { schemas: Record<string, { properties: object }> }
    ).schemas.widget!.properties;
    expect(schema).toMatchObject({ name: { maxLength: 512 }, token: { maxLength: 16_384 } });
    expect(widgetsContract.document.info.description).toContain('Bodies are at most 2 KB');
    const original = WIDGETS_DOCUMENT.components as { schemas: { widget: { properties: { name: object } } } };
    expect(original.schemas.widget.properties.name).toEqual({ type: 'string' });
  });

  it('reads an OpenAPI 3.0 document as 3.1: nullable, and exclusive bounds as flags', () => {
    const contract = compileContract({
      openapi: '3.0.1',
      info: { title: 'Old', version: '1' },
      paths: {
        '/things': {
          post: {
            operationId: 'createThing',
            parameters: [
              { name: 'size', in: 'query', schema: { type: 'integer', maximum: 10, exclusiveMaximum: true } },
            ],
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      note: { type: 'string', nullable: true },
                      nullable: { type: 'boolean' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    });
    const check = (query: Record<string, unknown>, body: unknown) => () =>
      contract.validateRequest('createThing', { query, body, headers: {}, path: {} });
    expect(check({ size: '9' }, { note: null, nullable: true })).not.toThrow();
    expect(check({ size: '10' }, {})).toThrow('query parameter size must be < 10');
    expect(check({}, { nullable: 'yes' })).toThrow('body/nullable must be boolean');
    expect(contract.document.openapi).toBe('3.1.0');
  });

  it('refuses long-text names that no request string has', () => {
    expect(() => compileContract(WIDGETS_DOCUMENT, { longText: ['password'] })).toThrow(
      'long-text names no request string: password',
    );
  });

  it('refuses a route that names no operation when the server is built', async () => {
    const app = Fastify();
    const build = async () => {
      await app.register(apiSurface, {
        ...widgets,
        routes: async (scope) => {
          scope.get('/widgets', async () => []);
        },
      });
      await app.ready();
    };
    await expect(build()).rejects.toThrow(
      'GET /widgets/v1/widgets names no operation of the Widgets API contract',
    );
    await app.close();
  });

  it("refuses a route whose path parameters are not its operation's when the server is built", async () => {
    const app = Fastify();
    const build = async () => {
      await app.register(apiSurface, {
        ...widgets,
        routes: async (scope) => {
          scope.get('/colours/:hue', { config: { operationId: 'getColour' } }, async () => ({}));
        },
      });
      await app.ready();
    };
    await expect(build()).rejects.toThrow(
      'GET /widgets/v1/colours/:hue does not take the path parameters of getColour (/colours/{colour})',
    );
    await app.close();
  });
});
