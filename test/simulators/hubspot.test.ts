import { Client } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hubspot } from '../../simulators/hubspot/index.ts';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { consentThroughPage, simControl } from '../helpers/simulator.ts';

const json = (res: Response) => res.json() as Promise<any>;

describe('HubSpot simulator', () => {
  let sim: RunningSimulator;
  const control = (path: string, body?: unknown) => simControl(sim.url, path, body);
  let token: string;
  let sdk: Client;

  beforeAll(async () => {
    sim = await startSimulator(hubspot, { records: 250 });
    await control('limits', { ten_second: 10_000, search_per_second: 1000 });
    token = (await control('tokens', {})).access_token;
    // The official SDK, pointed at the simulator; its own retry and limiter are off so that
    // what the test sees is what the simulator answered.
    sdk = new Client({ accessToken: token, basePath: sim.url, numberOfApiCallRetries: 0 });
  });
  afterAll(() => sim.close());

  it('the official SDK pages through every contact', async () => {
    const all = await sdk.crm.contacts.getAll(100, undefined, ['email', 'firstname']);
    expect(all).toHaveLength(250);
    expect(new Set(all.map((c) => c.id)).size).toBe(250);
    expect(all[0]!.properties.email).toMatch(/@/);
    const page = await sdk.crm.contacts.basicApi.getPage(10, undefined, ['email']);
    expect(page.results).toHaveLength(10);
    expect(page.paging?.next?.after).toBe('10');
  });

  it('the official SDK creates, updates, reads and archives a contact', async () => {
    const created = await sdk.crm.contacts.basicApi.create({
      properties: { email: 'new.person@example.test', firstname: 'New' },
      associations: [],
    });
    expect(created.id).toBeDefined();
    const updated = await sdk.crm.contacts.basicApi.update(created.id, {
      properties: { firstname: 'Renamed' },
    });
    expect(updated.properties.firstname).toBe('Renamed');
    const read = await sdk.crm.contacts.basicApi.getById(created.id, ['firstname', 'email']);
    expect(read.properties).toMatchObject({ firstname: 'Renamed', email: 'new.person@example.test' });
    await sdk.crm.contacts.basicApi.archive(created.id);
    await expect(sdk.crm.contacts.basicApi.getById(created.id)).rejects.toMatchObject({ code: 404 });
  });

  it('the official SDK searches by modification date, and incremental reads see exactly the changes', async () => {
    const before = new Date((await control('clock', { advance_ms: 1000 })).now).getTime();
    const changes = await control('mutate', { object: 'contacts', update: 7, delete: 3, create: 2 });
    expect(changes.updated).toHaveLength(7);
    const result = await sdk.crm.contacts.searchApi.doSearch({
      filterGroups: [
        { filters: [{ propertyName: 'lastmodifieddate', operator: 'GT' as never, value: String(before) }] },
      ],
      sorts: ['lastmodifieddate'],
      properties: ['email'],
      limit: 100,
      after: '0',
    });
    const expected = [...changes.updated, ...changes.created];
    expect(result.results.map((r) => r.id).sort()).toEqual(expected.sort());
    expect(result.total).toBe(expected.length);
    // Deleted records are listed as archived.
    const archived = await sdk.crm.contacts.basicApi.getPage(
      100,
      undefined,
      undefined,
      undefined,
      undefined,
      true,
    );
    expect(archived.results.map((r) => r.id)).toEqual(expect.arrayContaining(changes.deleted));
    expect(archived.results.every((r) => r.archived)).toBe(true);
  });

  it('the official SDK reads the schemas of custom object types and their records by each of their identifiers', async () => {
    const { results: schemas } = await sdk.crm.schemas.coreApi.getAll();
    expect(schemas).toHaveLength(1);
    const schema = schemas[0]!;
    expect(schema).toMatchObject({
      objectTypeId: '2-7654321',
      fullyQualifiedName: `p${hubspot.account.accountId}_invoice`,
      name: 'invoice',
      labels: { singular: 'Invoice', plural: 'Invoices' },
      primaryDisplayProperty: 'invoice_number',
    });
    expect(schema.properties.map((p) => p.name)).toEqual(
      expect.arrayContaining(['invoice_number', 'amount', 'status', 'due_date', 'hs_lastmodifieddate']),
    );
    expect(await sdk.crm.schemas.coreApi.getById(schema.fullyQualifiedName!)).toMatchObject({
      id: schema.id,
    });
    const v3 = await fetch(`${sim.url}/crm/v3/schemas/2-7654321`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await json(v3)).toMatchObject({ name: 'invoice' });
    await expect(sdk.crm.schemas.coreApi.getById('invoice')).rejects.toMatchObject({ code: 404 });

    const fqn = schema.fullyQualifiedName!;
    const byId = await sdk.crm.objects.basicApi.getPage('2-7654321', 5, undefined, [
      'invoice_number',
      'amount',
    ]);
    expect(byId.results.map((r) => r.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(byId.results[0]!.properties).toMatchObject({
      invoice_number: 'INV-000001',
      amount: expect.any(String),
    });
    for (const objectType of [fqn, 'p_invoice']) {
      const page = await sdk.crm.objects.basicApi.getPage(objectType, 5, undefined, [
        'invoice_number',
        'amount',
      ]);
      expect(page.results).toEqual(byId.results);
    }
    // HubSpot no longer takes a custom object type's bare name.
    await expect(sdk.crm.objects.basicApi.getPage('invoice', 5)).rejects.toMatchObject({ code: 400 });
    const properties = await sdk.crm.properties.coreApi.getAll('2-7654321');
    expect(properties.results.find((p) => p.name === 'status')).toMatchObject({ type: 'enumeration' });

    const before = new Date((await control('clock', { advance_ms: 1000 })).now).getTime();
    const changes = await control('mutate', { object: fqn, update: 4, delete: 2, create: 3 });
    const found = await sdk.crm.objects.searchApi.doSearch('2-7654321', {
      filterGroups: [
        {
          filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GT' as never, value: String(before) }],
        },
      ],
      sorts: ['hs_object_id'],
      properties: ['amount'],
      limit: 100,
      after: '0',
    });
    expect(found.results.map((r) => r.id).sort()).toEqual([...changes.updated, ...changes.created].sort());
    const archived = await sdk.crm.objects.basicApi.getPage(
      fqn,
      100,
      undefined,
      undefined,
      undefined,
      undefined,
      true,
    );
    expect(archived.results.map((r) => r.id).sort()).toEqual([...changes.deleted].sort());

    const created = await sdk.crm.objects.basicApi.create('p_invoice', {
      properties: { invoice_number: 'INV-NEW', amount: '12.5', status: 'draft' },
      associations: [],
    });
    expect(created.properties).toMatchObject({ invoice_number: 'INV-NEW', hs_object_id: created.id });
    await sdk.crm.objects.basicApi.archive(fqn, created.id);
    await expect(sdk.crm.objects.basicApi.getById('2-7654321', created.id)).rejects.toMatchObject({
      code: 404,
    });
  });

  it('search refuses to page past 10,000 results with a 400', async () => {
    await control('seed', { object: 'deals', count: 12_000 });
    const res = await fetch(`${sim.url}/crm/v3/objects/deals/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        limit: 200,
        after: '9900',
        sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }],
      }),
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
  });

  it('completes the OAuth flow through the consent page, and refreshes with and without rotation', async () => {
    const redirect = 'http://127.0.0.1:1/callback';
    const location = await consentThroughPage(
      sim.url,
      `${sim.url}/oauth/authorize?client_id=sim-client-id&redirect_uri=${encodeURIComponent(redirect)}&scope=crm.objects.contacts.read&state=xyz`,
      {
        redirect_uri: redirect,
        state: 'xyz',
        scope: 'crm.objects.contacts.read',
      },
    );
    expect(location.searchParams.get('state')).toBe('xyz');
    const tokens = await sdk.oauth.tokensApi.create(
      'authorization_code',
      location.searchParams.get('code')!,
      redirect,
      'sim-client-id',
      'sim-client-secret',
    );
    expect(tokens).toMatchObject({ tokenType: 'bearer', expiresIn: 1800 });
    const info = await json(await fetch(`${sim.url}/oauth/v1/access-tokens/${tokens.accessToken}`));
    expect(info).toMatchObject({ hub_id: 24681357, scopes: ['crm.objects.contacts.read'] });

    const refresh = () =>
      sdk.oauth.tokensApi.create(
        'refresh_token',
        undefined,
        undefined,
        'sim-client-id',
        'sim-client-secret',
        tokens.refreshToken,
      );
    const refreshed = await refresh();
    expect(refreshed.refreshToken).toBe(tokens.refreshToken);
    await control('faults', { rotate_refresh_tokens: true });
    const rotated = await refresh();
    expect(rotated.refreshToken).not.toBe(tokens.refreshToken);
    await expect(refresh()).rejects.toMatchObject({ code: 400 });
    await control('faults', { rotate_refresh_tokens: false });
  });

  it('answers an expired token and an exhausted ten-second window like HubSpot', async () => {
    const fresh = (await control('tokens', {})).access_token;
    await control('limits', { ten_second: 2 });
    const call = () =>
      fetch(`${sim.url}/crm/v3/objects/companies?limit=1`, { headers: { authorization: `Bearer ${fresh}` } });
    await call();
    const second = await call();
    expect(second.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
    expect(await json(limited)).toMatchObject({
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
    });
    await control('limits', { ten_second: 10_000 });

    await control('faults', { expire_tokens_now: true });
    const expired = await call();
    expect(expired.status).toBe(401);
    expect(await json(expired)).toMatchObject({ category: 'EXPIRED_AUTHENTICATION' });
  });

  it('holds a million contacts and serves the first and last pages building about a page of records each', async () => {
    const fresh = (await control('tokens', {})).access_token;
    await control('seed', { object: 'contacts', count: 1_000_000 });
    // Seeded records are generated on demand: count how many each page makes the simulator build.
    const generated = vi.spyOn(hubspot.objects.contacts!, 'generate');
    const page = async (query: string) => {
      generated.mockClear();
      const body = await json(
        await fetch(`${sim.url}/crm/v3/objects/contacts?${query}`, {
          headers: { authorization: `Bearer ${fresh}` },
        }),
      );
      return { body, generated: generated.mock.calls.length };
    };
    try {
      const first = await page('limit=100');
      const last = await page('limit=100&after=999950');
      expect(first.body.results).toHaveLength(100);
      expect(last.body.results.map((r: { id: string }) => r.id).at(-1)).toBe('1000000');
      expect(last.body.paging).toBeUndefined();
      // The work is the page's, whatever its offset: never the 999,950 records before the last one.
      expect(first.generated).toBeLessThanOrEqual(200);
      expect(last.generated).toBeLessThanOrEqual(200);
    } finally {
      generated.mockRestore();
    }
  });
});
