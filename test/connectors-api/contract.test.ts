import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCLUDES } from '../../src/api/connectors/query-translation.ts';
import { createProject } from '../../src/core/projects.ts';
import {
  type ConnectorsClient,
  type ConnectorsSetup,
  connectorsClient,
  connectorsSchemas,
  simCredentials,
  startConnectorsApi,
  storeBody,
} from '../helpers/connectors-api.ts';
import { simControl } from '../helpers/simulator.ts';
import type { ApiResponse } from '../helpers/trellis.ts';

/**
 * The Connectors API (seed 003) over real HTTP against the simulators: every operation, every
 * include, filter and sort, paging at its bounds, each answer checked against the API's document
 * (Laravel's envelopes and error shapes), the test operation against a provider that accepts and
 * then refuses a key, and another project that sees none of it.
 */

describe('the Connectors API', () => {
  let s: ConnectorsSetup;
  let api: ConnectorsClient;
  /** Every answer, checked against the document as it arrives. */
  const answers: { what: string; res: ApiResponse }[] = [];
  const exercised = new Map<string, Set<number>>();

  const call: ConnectorsClient = async (method, path, opts) => {
    const res = await api(method, path, opts);
    const what = `${method} ${path} ${JSON.stringify(opts?.query ?? {})} → ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`;
    answers.push({ what, res });
    const op = connectorsSchemas.operationOf(method, path.split('?')[0] || '/');
    expect(op, `${what}: no operation of the document`).toBeDefined();
    exercised.set(op!.id, (exercised.get(op!.id) ?? new Set()).add(res.status));
    const mediaType = res.headers.get('content-type')?.split(';')[0] ?? '';
    if (res.status === 200 && op!.id === 'connectorsTest') {
      expect(res.body, what).toBe('');
      return res;
    }
    const validate = connectorsSchemas.validator(op!, res.status, mediaType);
    expect(validate, `${what}: the document has no ${res.status} ${mediaType} answer`).toBeTruthy();
    expect(validate!(res.body), `${what}\n${connectorsSchemas.errorsText(validate!.errors)}`).toBe(true);
    return res;
  };

  let apolloKey: string;
  let apolloId: string;
  let gongId: string;
  let hubspotId: string;

  beforeAll(async () => {
    s = await startConnectorsApi();
    api = s.api;
    apolloKey = (await simCredentials(s.sims.apollo)).api_key!;
    const apollo = await call('POST', '/', {
      body: storeBody({
        name: 'Apollo - sales',
        authentication_implementation_id: 'apollo:api_key',
        variables: [
          { key: 'api_key', value: apolloKey, label: 'API key', secret: true, locked: true },
          { key: 'region', value: 'eu', label: 'Region' },
          { key: 'webhook_secret', value: 'whsec-apollo-extra', secret: true },
        ],
      }),
    });
    expect(apollo.status).toBe(200);
    apolloId = apollo.body.data.id;
    const gongKeys = await simCredentials(s.sims.gong);
    const gong = await call('POST', '/', {
      body: storeBody({
        name: 'Gong',
        authentication_implementation_id: 'gong:access_key_secret',
        rate_limit_unit: 'minute',
        rate_limit_duration: 120,
        connection_pool_id: 7,
        variables: [
          { key: 'access_key', value: gongKeys.access_key },
          { key: 'access_key_secret', value: gongKeys.access_key_secret },
        ],
      }),
    });
    expect(gong.status).toBe(200);
    gongId = gong.body.data.id;
    const refreshToken = (await simCredentials(s.sims.hubspot)).refresh_token!;
    const hubspot = await call('POST', '/', {
      body: storeBody({
        name: 'HubSpot - UK',
        authentication_implementation_id: 'hubspot:oauth2',
        session_id: 'session-1',
        platform_app_key: 'platform-app-1',
        certificate_id: 'certificate-1',
        variables: [{ key: 'refresh_token', value: refreshToken, secret: true }],
      }),
    });
    expect(hubspot.status).toBe(200);
    hubspotId = hubspot.body.data.id;
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('stores a connector and shows it back as given, with no secret value', async () => {
    const shown = await call('GET', `/${apolloId}`, { query: { include: 'variables' } });
    expect(shown.status).toBe(200);
    expect(shown.body.data).toMatchObject({
      id: apolloId,
      name: 'Apollo - sales',
      authentication_implementation_id: 'apollo:api_key',
      system_id: 'apollo',
      canonical_key: 'apollo',
      timezone: 'Europe/London',
      date_format: 'Y-m-d H:i:s',
      rate_limit_unit: 'second',
      rate_limit_duration: 5,
      connection_pool_id: null,
      session_id: null,
      platform_app_key: null,
      certificate_id: null,
      status: 'created',
    });
    expect(shown.body.data.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const byKey = Object.fromEntries(shown.body.data.variables.map((v: any) => [v.key, v]));
    expect(byKey.api_key).toMatchObject({ value: null, secret: true, locked: true, label: 'API key' });
    expect(byKey.region).toMatchObject({ value: 'eu', secret: false, locked: false, label: 'Region' });
    expect(byKey.webhook_secret).toMatchObject({ value: null, secret: true });
    const gong = await call('GET', `/${gongId}`);
    expect(gong.body.data).toMatchObject({
      rate_limit_unit: 'minute',
      rate_limit_duration: 120,
      connection_pool_id: 7,
    });
    const hubspot = await call('GET', `/${hubspotId}`);
    expect(hubspot.body.data).toMatchObject({
      session_id: 'session-1',
      platform_app_key: 'platform-app-1',
      certificate_id: 'certificate-1',
    });
  });

  it('answers every include of the seed, together and one by one', async () => {
    const all = await call('GET', `/${hubspotId}`, { query: { include: INCLUDES.join(',') } });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    const c = all.body.data;
    expect(c.authentication_implementation_count).toBe(1);
    expect(c.authentication_implementation_exists).toBe(true);
    expect(c.variables_count).toBe(1);
    expect(c.variables_exists).toBe(true);
    expect(c.certificate).toBeNull();
    expect(c.certificate_count).toBe(0);
    expect(c.certificate_exists).toBe(false);
    const impl = c.authentication_implementation;
    expect(impl).toMatchObject({
      id: 'hubspot:oauth2',
      system_id: 'hubspot',
      authentication_type_id: 'oauth2',
      authentication_type: { id: 'oauth2', name: 'OAuth 2.0' },
      system: {
        id: 'hubspot',
        label: 'HubSpot',
        system_type_id: 'crm',
        system_type: { id: 'crm', name: 'CRM' },
        logo: { id: 'hubspot', mime_type: 'image/svg+xml' },
      },
    });
    const endpoints = impl.endpoints as any[];
    expect(endpoints.map((e) => e.id)).toEqual([
      'hubspot:contacts:receive',
      'hubspot:companies:receive',
      'hubspot:deals:receive',
      'hubspot:owners:receive',
      'hubspot:contacts:send',
      'hubspot:companies:send',
      'hubspot:deals:send',
    ]);
    const contacts = endpoints[0];
    expect(contacts).toMatchObject({
      direction: 'Receive',
      filters: [],
      field_tags: [],
      variables: [],
      entity_type: { id: 'hubspot:contacts', name: 'contacts' },
      system: { id: 'hubspot', logo: { id: 'hubspot' } },
    });
    // The fields come from the provider, asked on the connector's own connection.
    expect(contacts.endpoint_schema.fields.map((f: any) => f.name)).toContain('email');
    // HubSpot's connector describes no owners' fields: that endpoint has no schema.
    expect(endpoints.find((e) => e.id === 'hubspot:owners:receive').endpoint_schema).toBeNull();

    // The logo is Trellis's own drawing, served without a key.
    const logo = await fetch(impl.system.logo.url);
    expect(logo.status).toBe(200);
    expect(logo.headers.get('content-type')).toContain('image/svg+xml');
    expect(await logo.text()).toMatch(
      /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg".*>Hs<\/text><\/svg>$/,
    );

    // Each alone: the attribute it names (snake case, as Laravel serializes relations and counts),
    // reached through the relations it nests in.
    const snake = (name: string) =>
      name
        .replace(/Exists$/, '_exists')
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .toLowerCase();
    for (const include of INCLUDES) {
      const one = await call('GET', `/${hubspotId}`, { query: { include } });
      expect(one.status, include).toBe(200);
      let node: any = one.body.data;
      for (const relation of include.split('.')) {
        // A connector has no certificate, so nothing nests in it.
        if (node === null && include === 'certificate.user') break;
        if (Array.isArray(node)) node = node[0];
        expect(node, include).toHaveProperty(snake(relation));
        node = node[snake(relation)];
      }
    }
    // Without includes, none of them.
    const bare = await call('GET', `/${apolloId}`);
    for (const key of ['authentication_implementation', 'variables', 'variables_count', 'certificate'])
      expect(bare.body.data).not.toHaveProperty(key);
  });

  it('filters by system, canonical key, system template, session and platform session', async () => {
    const ids = async (query: Record<string, string>) => {
      const res = await call('GET', '/', { query });
      expect(res.status, JSON.stringify(query)).toBe(200);
      return (res.body.data as any[]).map((c) => c.id);
    };
    expect(await ids({ 'filter[system]': 'apollo' })).toEqual([apolloId]);
    expect(await ids({ 'filter[system]': 'apollo,gong' })).toEqual([apolloId, gongId]);
    expect(await ids({ 'filter[canonical_key]': 'gong' })).toEqual([gongId]);
    expect(await ids({ 'filter[system_template_id]': 'hubspot' })).toEqual([hubspotId]);
    expect(await ids({ 'filter[forSystemTemplate]': 'hubspot' })).toEqual([hubspotId]);
    expect(await ids({ 'filter[forSession]': 'session-1' })).toEqual([hubspotId]);
    expect(await ids({ 'filter[forSession]': 'session-2' })).toEqual([]);
    expect(await ids({ 'filter[platformSession]': 'platform-app-1' })).toEqual([hubspotId]);
    expect(await ids({ 'filter[system]': 'apollo', 'filter[canonical_key]': 'gong' })).toEqual([]);
    expect(await ids({ 'filter[system]': 'apollo,hubspot', 'filter[forSession]': 'session-1' })).toEqual([
      hubspotId,
    ]);
    // Filters hold for one connector too, as a query builder applies them to it.
    expect((await call('GET', `/${apolloId}`, { query: { 'filter[system]': 'gong' } })).status).toBe(404);
    expect((await call('GET', `/${apolloId}`, { query: { 'filter[system]': 'apollo' } })).status).toBe(200);
  });

  it('sorts by name, either way', async () => {
    const names = async (sort: string) =>
      ((await call('GET', '/', { query: { sort } })).body.data as any[]).map((c) => c.name);
    expect(await names('name')).toEqual(['Apollo - sales', 'Gong', 'HubSpot - UK']);
    expect(await names('-name')).toEqual(['HubSpot - UK', 'Gong', 'Apollo - sales']);
  });

  it('refuses includes, filters and sorts it does not offer, naming those it does', async () => {
    for (const [query, named] of [
      [{ include: 'variables,secrets' }, 'secrets'],
      [{ include: 'authenticationImplementation.endpoints.system.systemType' }, 'systemType'],
      [{ 'filter[name]': 'x' }, 'name'],
      [{ filter: 'x' }, 'filter'],
      [{ sort: 'created_at' }, 'created_at'],
      [{ sort: '-id' }, '-id'],
    ] as const) {
      for (const path of ['/', `/${apolloId}`]) {
        const res = await call('GET', path, { query: query as Record<string, string> });
        expect(res.status, JSON.stringify(query)).toBe(400);
        expect(res.body.message).toContain(named);
        expect(res.body.message).toContain('allowed:');
      }
    }
  });

  it('pages at its bounds: 1 and 100 per page, past the last page, 0 and 101 refused', async () => {
    const page = async (query: Record<string, string>) => (await call('GET', '/', { query })).body;
    const one = await page({ per_page: '1', page: '2', sort: 'name' });
    expect(one.data.map((c: any) => c.name)).toEqual(['Gong']);
    expect(one.meta).toMatchObject({ current_page: 2, from: 2, to: 2, last_page: 3, per_page: 1, total: 3 });
    expect(one.meta.path).toBe(`${s.t.baseUrl}/api/v1/connectors`);
    const link = (u: string | null) => (u ? Object.fromEntries(new URL(u).searchParams) : null);
    expect(link(one.links.first)).toEqual({ per_page: '1', sort: 'name', page: '1' });
    expect(link(one.links.prev)).toMatchObject({ page: '1' });
    expect(link(one.links.next)).toMatchObject({ page: '3' });
    expect(link(one.links.last)).toMatchObject({ page: '3' });
    const last = await page({ per_page: '1', page: '3' });
    expect(last.links.next).toBeNull();
    const first = await page({});
    expect(first.meta).toMatchObject({ current_page: 1, per_page: 15, from: 1, to: 3, last_page: 1 });
    expect(first.links.prev).toBeNull();
    const hundred = await page({ per_page: '100' });
    expect(hundred.data).toHaveLength(3);
    expect(hundred.meta).toMatchObject({ per_page: 100, last_page: 1 });
    const past = await page({ page: '9' });
    expect(past.data).toEqual([]);
    expect(past.meta).toMatchObject({ current_page: 9, from: null, to: null, last_page: 1, total: 3 });
    expect(link(past.links.prev)).toMatchObject({ page: '8' });
    for (const [name, value] of [
      ['per_page', '0'],
      ['per_page', '101'],
      ['page', '0'],
      ['per_page', 'many'],
    ]) {
      const refused = await call('GET', '/', { query: { [name!]: value! } });
      expect(refused.status, `${name}=${value}`).toBe(value === 'many' ? 400 : 422);
      if (refused.status === 422) expect(Object.keys(refused.body.errors)).toEqual([name]);
    }
  });

  it('tests credentials with the provider: a good key passes, a revoked one fails clearly and marks the connector, a new one passes again', async () => {
    const passed = await call('POST', `/${apolloId}/test`);
    expect(passed.status).toBe(200);
    expect((await call('GET', `/${apolloId}`)).body.data.status).toBe('working');
    for (const id of [gongId, hubspotId]) expect((await call('POST', `/${id}/test`)).status).toBe(200);

    await simControl(s.sims.apollo.url, 'faults', { expire_tokens_now: true });
    const failed = await call('POST', `/${apolloId}/test`);
    expect(failed.status).toBe(422);
    expect(failed.body.message).toBe('Apollo did not accept these credentials');
    expect((await call('GET', `/${apolloId}`)).body.data.status).toBe('bad_credentials');

    // A new key, sent alone: the other variables keep their values, the other secret included.
    const newKey = (await simCredentials(s.sims.apollo)).api_key!;
    const updated = await call('PUT', `/${apolloId}`, {
      body: {
        variables: [
          { key: 'api_key', value: newKey },
          { key: 'region', value: 'us' },
          { key: 'webhook_secret', value: null, secret: true },
        ],
      },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data.status).toBe('created');
    expect((await call('POST', `/${apolloId}/test`)).status).toBe(200);
    expect((await call('GET', `/${apolloId}`)).body.data.status).toBe('working');
  });

  it('updates what it is sent and keeps the rest, secret values not re-sent included', async () => {
    const before = (await call('GET', `/${gongId}`, { query: { include: 'variables' } })).body.data;
    const updated = await call('PUT', `/${gongId}`, {
      body: { name: 'Gong - EMEA', rate_limit_duration: 600, type: 'standard', timezone: 'Asia/Tokyo' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data).toMatchObject({
      name: 'Gong - EMEA',
      rate_limit_unit: 'minute',
      rate_limit_duration: 600,
      type: 'standard',
      timezone: 'Asia/Tokyo',
      date_format: before.date_format,
      connection_pool_id: 7,
      status: before.status,
    });
    // The credentials were not touched: the provider still accepts them.
    expect((await call('POST', `/${gongId}/test`)).status).toBe(200);
    // Variables sent back as read (secrets null) keep their values; their ids stay.
    const again = await call('PUT', `/${gongId}`, { body: { variables: before.variables } });
    expect(again.status).toBe(200);
    expect((await call('POST', `/${gongId}/test`)).status).toBe(200);
    const after = (await call('GET', `/${gongId}`, { query: { include: 'variables' } })).body.data;
    expect(after.variables.map((v: any) => v.id)).toEqual(before.variables.map((v: any) => v.id));
    // An empty body changes nothing.
    expect((await call('PUT', `/${gongId}`, { body: {} })).body.data.name).toBe('Gong - EMEA');
  });

  it('refuses invalid stores and updates with 422 and the fields at fault', async () => {
    const cases: [unknown, string][] = [
      [{ ...storeBody({ authentication_implementation_id: 'apollo:api_key' }), name: undefined }, 'name'],
      [storeBody({ name: ' ', authentication_implementation_id: 'apollo:api_key' }), 'name'],
      [
        storeBody({ name: 'x', authentication_implementation_id: 'nowhere:api_key' }),
        'authentication_implementation_id',
      ],
      [storeBody({ name: 'x', authentication_implementation_id: 'apollo:api_key' }), 'variables'],
      [
        storeBody({
          name: 'x',
          authentication_implementation_id: 'apollo:api_key',
          timezone: 'Mars/Olympus',
          variables: [{ key: 'api_key', value: 'k' }],
        }),
        'timezone',
      ],
      [
        storeBody({ name: 'x', authentication_implementation_id: 'apollo:api_key', rate_limit_unit: 'week' }),
        'rate_limit_unit',
      ],
      [
        storeBody({
          name: 'x',
          authentication_implementation_id: 'apollo:api_key',
          variables: [
            { key: 'api_key', value: 'k' },
            { key: 'api_key', value: 'k2' },
          ],
        }),
        'variables',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await call('POST', '/', { body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(Object.keys(res.body.errors), JSON.stringify(res.body)).toEqual([field]);
      expect(res.body.message).toBe(res.body.errors[field][0]);
    }
    const update = await call('PUT', `/${apolloId}`, {
      body: { authentication_implementation_id: 'gong:api_key' },
    });
    expect(update.status).toBe(422);
    expect(Object.keys(update.body.errors)).toEqual(['authentication_implementation_id']);
    const unknownVariable = await call('PUT', `/${apolloId}`, {
      body: { variables: [{ id: 'not-a-variable', key: 'api_key', value: 'x' }] },
    });
    expect(unknownVariable.status).toBe(422);
    expect(Object.keys(unknownVariable.body.errors)).toEqual(['variables.0.id']);
  });

  it('authenticates with the project key, bare or as a bearer token; nothing else', async () => {
    expect((await call('GET', '/', { authorization: `Bearer ${s.t.apiKey}` })).status).toBe(200);
    expect((await call('GET', '/', { authorization: `bearer ${s.t.apiKey}` })).status).toBe(200);
    for (const authorization of [null, '', 'Bearer ', 'trls_not-a-key', `Basic ${s.t.apiKey}`]) {
      const res = await call('GET', `/${apolloId}`, { authorization });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.body.message).toMatch(/^Unauthenticated/);
    }
  });

  it("keeps each project's connectors to itself: another project's key finds none of them (404)", async () => {
    const other = await createProject(s.t.runtime.deps.db, 'other-project');
    const intruder = connectorsClient(s.t.baseUrl, other.apiKey);
    expect((await intruder('GET', '/')).body.data).toEqual([]);
    for (const [method, path, body] of [
      ['GET', `/${apolloId}`, undefined],
      ['PUT', `/${apolloId}`, { name: 'taken' }],
      ['POST', `/${apolloId}/test`, undefined],
      ['DELETE', `/${apolloId}`, undefined],
    ] as const) {
      const res = await intruder(method, path, { body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
    expect((await call('GET', `/${apolloId}`)).body.data.name).toBe('Apollo - sales');
  });

  it('destroys a connector: 200 with a message, then it is gone', async () => {
    const doomed = await call('POST', '/', {
      body: storeBody({
        name: 'Doomed',
        authentication_implementation_id: 'apollo:api_key',
        variables: [{ key: 'api_key', value: 'doomed-key' }],
      }),
    });
    const destroyed = await call('DELETE', `/${doomed.body.data.id}`);
    expect(destroyed.status).toBe(200);
    expect(destroyed.body.message).toEqual(expect.any(String));
    for (const [method, path] of [
      ['GET', `/${doomed.body.data.id}`],
      ['DELETE', `/${doomed.body.data.id}`],
      ['POST', `/${doomed.body.data.id}/test`],
      ['GET', '/not-a-uuid'],
    ] as const)
      expect((await call(method, path)).status, `${method} ${path}`).toBe(404);
  });

  it('paces a connector as its rate limit says, and as it is changed to', async () => {
    // Apollo's test asks two requests: three tests are six, a second's worth at once, the rest a
    // second later, and so on.
    const sixRequests = async () => {
      const started = Date.now();
      const tests = await Promise.all([1, 2, 3].map(() => call('POST', `/${apolloId}/test`)));
      expect(tests.map((t) => t.status)).toEqual([200, 200, 200]);
      return Date.now() - started;
    };
    await call('PUT', `/${apolloId}`, { body: { rate_limit_unit: 'second', rate_limit_duration: 4 } });
    expect(await sixRequests()).toBeGreaterThanOrEqual(1_000);
    await call('PUT', `/${apolloId}`, { body: { rate_limit_duration: 2 } });
    expect(await sixRequests()).toBeGreaterThanOrEqual(2_000);
  });

  it('exercised every operation of the document with a success', () => {
    const never = connectorsSchemas.operations
      .map((op) => op.id)
      .filter((id) => id !== 'systemLogo' && ![...(exercised.get(id) ?? [])].some((status) => status < 300));
    expect(never).toEqual([]);
  });
});
