import { createHmac } from 'node:crypto';
import { Connection, OAuth2 } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../simulators/index.ts';
import { salesforce } from '../../simulators/salesforce/index.ts';

const json = (res: Response) => res.json() as Promise<any>;
const CLIENT = { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' };
const SEEDED = 1100;
/** A SOQL dateTime literal (Salesforce keeps dateTimes to the second). */
const soqlTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('Salesforce simulator', () => {
  let sim: RunningSimulator;
  let control: (path: string, body?: unknown) => Promise<any>;
  let token: string;
  let conn: Connection;
  const api = (path: string, init: RequestInit = {}, t = token) =>
    fetch(`${sim.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  const soql = (q: string, all = false) =>
    api(`/services/data/v59.0/${all ? 'queryAll' : 'query'}?q=${encodeURIComponent(q)}`);
  /** Ids of the live records of an object, from the control API. */
  const liveIds = async (object: string) =>
    (await (await fetch(`${sim.url}/__sim/records/${object}`)).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((r) => !r.deleted)
      .map((r) => r.id as string);

  beforeAll(async () => {
    sim = await startSimulator(salesforce, { records: SEEDED });
    control = async (path, body) =>
      json(
        await fetch(`${sim.url}/__sim/${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
    token = (await control('tokens', {})).access_token;
    conn = new Connection({ instanceUrl: sim.url, accessToken: token, version: '59.0' });
  });
  afterAll(() => sim.close());

  it('jsforce runs SOQL over several batches, with autoFetch and with queryMore', async () => {
    const expected = await liveIds('Account');
    expect(expected).toHaveLength(SEEDED);

    let fetches = 0;
    const query = conn.query<{ Id: string; Name: string; SystemModstamp: string }>(
      'SELECT Id, Name, SystemModstamp FROM Account',
      {
        autoFetch: true,
        maxFetch: 100_000,
        headers: { 'Sforce-Query-Options': 'batchSize=200' },
      },
    );
    query.on('fetch', () => fetches++);
    const all = await query;
    expect(fetches).toBe(6);
    expect(all.totalSize).toBe(SEEDED);
    expect(all.records.map((r) => r.Id)).toEqual(expected);
    expect(all.records[0]).toMatchObject({
      attributes: { type: 'Account' },
      Id: expect.stringMatching(/^001\w{15}$/),
    });
    expect(all.records[0]!.SystemModstamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$/);

    // Page by page: the default batch is 2,000, the header asks for 500.
    let page = await conn.query<{ Id: string }>('SELECT Id FROM Account', {
      headers: { 'Sforce-Query-Options': 'batchSize=500' },
    });
    expect(page).toMatchObject({ totalSize: SEEDED, done: false });
    // jsforce hands back the absolute form of the response's relative nextRecordsUrl.
    expect(page.nextRecordsUrl).toMatch(
      new RegExp(`^${sim.url}/services/data/v59\\.0/query/01g\\w{15}-500$`),
    );
    const raw = await json(
      await api(`/services/data/v59.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`, {
        headers: { 'Sforce-Query-Options': 'batchSize=300' },
      }),
    );
    expect(raw.nextRecordsUrl).toMatch(/^\/services\/data\/v59\.0\/query\/01g\w{15}-300$/);
    const ids = page.records.map((r) => r.Id);
    while (!page.done) {
      page = await conn.queryMore<{ Id: string }>(page.nextRecordsUrl!);
      ids.push(...page.records.map((r) => r.Id));
    }
    expect(ids).toEqual(expected);
    const unbatched = await json(await soql('SELECT Id FROM Account'));
    expect(unbatched.records).toHaveLength(SEEDED);
    expect(unbatched.done).toBe(true);
  });

  it('jsforce runs a Bulk API 2.0 query, and results page with locators', async () => {
    conn.bulk2.pollInterval = 50;
    const stream = await conn.bulk2.query('SELECT Id, Name, NumberOfEmployees FROM Account');
    const rows = await new Promise<Record<string, string>[]>((resolve, reject) => {
      const out: Record<string, string>[] = [];
      stream.on('record', (r: Record<string, string>) => out.push(r));
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
    });
    expect(rows.map((r) => r.Id)).toEqual(await liveIds('Account'));
    expect(rows[0]).toMatchObject({
      Name: expect.any(String),
      NumberOfEmployees: expect.stringMatching(/^\d+$/),
    });

    // The job's state follows the simulator's clock, held still here and moved 50 ms between
    // polls, so that every state is seen however slow the machine is.
    let now = sim.ctx.clock.now();
    const clock = vi.spyOn(sim.ctx.clock, 'now').mockImplementation(() => now);
    const states: string[] = [];
    let info: any;
    let jobId = '';
    try {
      const job = await json(
        await api('/services/data/v59.0/jobs/query', {
          method: 'POST',
          body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Email FROM Contact' }),
        }),
      );
      expect(job).toMatchObject({
        id: expect.stringMatching(/^750/),
        state: 'UploadComplete',
        contentType: 'CSV',
      });
      jobId = job.id;
      for (let polls = 0; polls < 100 && info?.state !== 'JobComplete'; polls++) {
        info = await json(await api(`/services/data/v59.0/jobs/query/${job.id}`));
        if (states.at(-1) !== info.state) states.push(info.state);
        now += 50;
      }
    } finally {
      clock.mockRestore();
    }
    // The clock goes on from where it was held, not back to real time.
    await control('clock', { advance_ms: Math.max(0, now - sim.ctx.clock.now()) });
    expect(states).toEqual(['UploadComplete', 'InProgress', 'JobComplete']);
    expect(info).toMatchObject({ jobType: 'V2Query', numberRecordsProcessed: SEEDED });

    const seen: string[] = [];
    let locator: string | null = '';
    let pages = 0;
    while (locator !== 'null') {
      const res = await api(
        `/services/data/v59.0/jobs/query/${jobId}/results?maxRecords=400${locator ? `&locator=${locator}` : ''}`,
      );
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      const lines = (await res.text()).trim().split('\n');
      expect(lines[0]).toBe('"Id","Email"');
      expect(Number(res.headers.get('sforce-numberofrecords'))).toBe(lines.length - 1);
      seen.push(...lines.slice(1).map((l) => l.split(',')[0]!.replaceAll('"', '')));
      locator = res.headers.get('sforce-locator');
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(await liveIds('Contact'));
  });

  it('jsforce describes objects and creates, updates, reads and deletes records', async () => {
    const global = await conn.describeGlobal();
    expect(global.sobjects.map((s) => s.name)).toEqual([
      'Account',
      'Contact',
      'Opportunity',
      'Lead',
      'Invoice__c',
      'User',
    ]);
    const described = await conn.describe('Contact');
    expect(described.keyPrefix).toBe('003');
    const field = (name: string) => described.fields.find((f) => f.name === name);
    expect(field('LastName')).toMatchObject({ type: 'string', updateable: true, nillable: false });
    expect(field('Id')).toMatchObject({ type: 'id', updateable: false });
    expect(field('SystemModstamp')).toMatchObject({ type: 'datetime', createable: false });
    expect(field('AccountId')).toMatchObject({ type: 'reference', referenceTo: ['Account'] });

    const created = await conn.sobject('Contact').create({ FirstName: 'Grace', LastName: 'Hopper' });
    expect(created).toMatchObject({ success: true, errors: [], id: expect.stringMatching(/^003\w{15}$/) });
    const id = (created as { id: string }).id;
    const updated = await conn
      .sobject('Contact')
      .update({ Id: id, Title: 'Rear Admiral', Email: 'grace@navy.example' });
    expect(updated).toMatchObject({ id, success: true });
    const read = await conn.sobject('Contact').retrieve(id);
    expect(read).toMatchObject({
      Name: 'Grace Hopper',
      Title: 'Rear Admiral',
      Email: 'grace@navy.example',
      IsDeleted: false,
    });

    await expect(conn.sobject('Contact').create({ FirstName: 'Nameless' })).rejects.toMatchObject({
      errorCode: 'REQUIRED_FIELD_MISSING',
    });
    await expect(
      conn.sobject('Contact').update({ Id: id, CreatedDate: '2020-01-01T00:00:00Z' }),
    ).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
    });

    // sObject Collections, with and without allOrNone.
    const many = await conn
      .sobject('Account')
      .create([{ Name: 'Collection One' }, { Name: 'Collection Two' }]);
    expect(many.map((r) => r.success)).toEqual([true, true]);
    const rolledBack = await conn.create('Account', [{ Name: 'Never Saved' }, { Website: 'no name' }], {
      allOrNone: true,
    });
    expect(rolledBack).toEqual([
      {
        success: false,
        errors: [expect.objectContaining({ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' })],
      },
      {
        success: false,
        errors: [expect.objectContaining({ statusCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] })],
      },
    ]);
    expect((await conn.query("SELECT Id FROM Account WHERE Name = 'never saved'")).totalSize).toBe(0);
    const manyIds = many.map((r) => (r as { id: string }).id);
    const renamed = await conn
      .sobject('Account')
      .update(manyIds.map((Id, i) => ({ Id, Name: `Renamed ${i}` })));
    expect(renamed.every((r) => r.success)).toBe(true);
    expect((await conn.sobject('Account').retrieve(manyIds)).map((r) => r?.Name)).toEqual([
      'Renamed 0',
      'Renamed 1',
    ]);
    const destroyed = await conn.sobject('Account').destroy(manyIds);
    expect(destroyed.every((r) => r.success)).toBe(true);

    await conn.sobject('Contact').destroy(id);
    await expect(conn.sobject('Contact').retrieve(id)).rejects.toMatchObject({
      errorCode: 'ENTITY_IS_DELETED',
    });
    const missing = await api(`/services/data/v59.0/sobjects/Contact/${salesforce.idOf('Contact', 999_999)}`);
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual([
      { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
    ]);
  });

  it('serves a custom object and custom fields as Salesforce does: describe, SOQL, Bulk API 2.0 and writes', async () => {
    const global = await conn.describeGlobal();
    const custom = global.sobjects.filter((o) => o.custom).map((o) => o.name);
    expect(custom).toEqual(['Invoice__c']);
    const described = await conn.describe('Invoice__c');
    expect(described).toMatchObject({ custom: true, keyPrefix: 'a0B', queryable: true, replicateable: true });
    const field = (name: string) => described.fields.find((f) => f.name === name);
    expect(field('Account__c')).toMatchObject({
      custom: true,
      type: 'reference',
      referenceTo: ['Account'],
      relationshipName: 'Account__r',
    });
    expect(field('Name')).toMatchObject({ custom: false, autoNumber: true, createable: false });
    expect(field('SystemModstamp')).toMatchObject({ custom: false });
    // A custom field on a standard object.
    const account = await conn.describe('Account');
    expect(account.fields.filter((f) => f.custom).map((f) => f.name)).toEqual(['Customer_Tier__c']);
    expect(account.childRelationships.map((r) => r.relationshipName)).toContain('Invoices__r');

    const firstPage = await conn.query<Record<string, unknown>>(
      'SELECT Id, Name, Account__c, Amount__c, Status__c FROM Invoice__c ORDER BY Id LIMIT 2',
    );
    expect(firstPage.records[0]).toMatchObject({
      attributes: { type: 'Invoice__c' },
      Id: salesforce.idOf('Invoice__c', 1),
      Name: 'INV-000001',
      Account__c: salesforce.idOf('Account', 1),
      Amount__c: expect.any(Number),
    });
    const customOnly = await conn.query<Record<string, unknown>>(
      'SELECT FIELDS(CUSTOM) FROM Invoice__c LIMIT 1',
    );
    expect(Object.keys(customOnly.records[0]!).filter((k) => k !== 'attributes')).toEqual([
      'Account__c',
      'Amount__c',
      'Status__c',
      'Due_Date__c',
      'Paid__c',
      'Memo__c',
    ]);
    const standardOnly = await conn.query<Record<string, unknown>>('SELECT FIELDS(STANDARD) FROM Account');
    expect(standardOnly.records[0]).not.toHaveProperty('Customer_Tier__c');
    await expect(conn.query('SELECT FIELDS(CUSTOM) FROM Invoice__c')).rejects.toMatchObject({
      errorCode: 'MALFORMED_QUERY',
    });

    conn.bulk2.pollInterval = 50;
    const stream = await conn.bulk2.query('SELECT Id, Name, Status__c FROM Invoice__c');
    const rows = await new Promise<Record<string, string>[]>((resolve, reject) => {
      const out: Record<string, string>[] = [];
      stream.on('record', (r: Record<string, string>) => out.push(r));
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
    });
    expect(rows.map((r) => r.Id)).toEqual(await liveIds('Invoice__c'));
    expect(rows[0]).toMatchObject({ Name: 'INV-000001', Status__c: expect.any(String) });

    const created = await conn
      .sobject('Invoice__c')
      .create({ Account__c: salesforce.idOf('Account', 2), Amount__c: 120.5, Status__c: 'Draft' });
    expect(created).toMatchObject({ success: true, id: expect.stringMatching(/^a0B\w{15}$/) });
    const id = (created as { id: string }).id;
    await conn.sobject('Invoice__c').update({ Id: id, Status__c: 'Sent' });
    expect(await conn.sobject('Invoice__c').retrieve(id)).toMatchObject({
      Name: `INV-${String(SEEDED + 1).padStart(6, '0')}`,
      Account__c: salesforce.idOf('Account', 2),
      Amount__c: 120.5,
      Status__c: 'Sent',
      Paid__c: false,
    });
    await expect(conn.sobject('Invoice__c').create({ Name: 'INV-X' })).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
    });
    await expect(
      conn.sobject('Invoice__c').create({ Account__c: salesforce.idOf('Contact', 1) }),
    ).rejects.toMatchObject({ errorCode: 'MALFORMED_ID' });
    await conn.sobject('Invoice__c').destroy(id);
    const gone = await json(await soql(`SELECT Id, IsDeleted FROM Invoice__c WHERE Id = '${id}'`, true));
    expect(gone.records).toMatchObject([{ Id: id, IsDeleted: true }]);
  });

  it('shows /__sim/mutate changes to modified-since SOQL, queryAll and the updated/deleted resources', async () => {
    await control('clock', { advance_ms: 5 * 60_000 });
    // The last whole second before the changes: modification times compare at second precision.
    const before =
      Math.floor(new Date((await control('clock', { advance_ms: 2000 })).now).getTime() / 1000) * 1000 - 1000;
    const changes = await control('mutate', { object: 'Contact', update: 7, delete: 3, create: 2 });
    await control('clock', { advance_ms: 2 * 60_000 });
    // A record the same call created or updated may also have been deleted by it.
    const changed = [...new Set<string>([...changes.updated, ...changes.created])]
      .filter((id) => !changes.deleted.includes(id))
      .sort();

    const since = await conn.query<{ Id: string }>(
      `SELECT Id FROM Contact WHERE SystemModstamp > ${soqlTime(before)} ORDER BY SystemModstamp`,
    );
    expect(since.records.map((r) => r.Id).sort()).toEqual(changed);
    const byDate = await json(
      await soql(`SELECT Id FROM Contact WHERE LastModifiedDate >= ${soqlTime(before)}`),
    );
    expect(byDate.totalSize).toBe(changed.length);

    const deleted = await conn.query<{ Id: string; IsDeleted: boolean }>(
      `SELECT Id, IsDeleted FROM Contact WHERE SystemModstamp > ${soqlTime(before)} AND IsDeleted = true`,
      { scanAll: true },
    );
    expect(deleted.records.map((r) => r.Id).sort()).toEqual([...changes.deleted].sort());
    expect(deleted.records.every((r) => r.IsDeleted)).toBe(true);
    expect((await json(await soql('SELECT Id FROM Contact WHERE IsDeleted = true'))).totalSize).toBe(0);
    const everything = await json(await soql('SELECT Id FROM Contact', true));
    const live = await json(await soql('SELECT Id FROM Contact'));
    expect(everything.totalSize - live.totalSize).toBeGreaterThanOrEqual(3);

    const start = new Date(before - 60_000);
    const end = new Date(before + 2 * 60_000);
    const updatedIds = await conn.sobject('Contact').updated(start, end);
    expect([...updatedIds.ids].sort()).toEqual(changed);
    expect(updatedIds.latestDateCovered).toMatch(/\+0000$/);
    const gone = await conn.sobject('Contact').deleted(start, end);
    expect(gone.deletedRecords.map((r) => r.id).sort()).toEqual([...changes.deleted].sort());
    expect(gone.deletedRecords[0]).toMatchObject({ deletedDate: expect.stringMatching(/\+0000$/) });

    // Primary-key chunking: WHERE Id > '...' ORDER BY Id LIMIT n.
    const ids = await liveIds('Contact');
    const chunk = await conn.query<{ Id: string }>(
      `SELECT Id FROM Contact WHERE Id > '${ids[99]}' ORDER BY Id LIMIT 5`,
    );
    expect(chunk.records.map((r) => r.Id)).toEqual(ids.slice(100, 105));
    const range = await conn.query<{ Id: string }>(
      `SELECT Id FROM Contact WHERE Id >= '${ids[10]}' AND Id < '${ids[20]}'`,
    );
    expect(range.records.map((r) => r.Id)).toEqual(ids.slice(10, 20));
    expect(range.totalSize).toBe(10);
    // Counted from the bounds alone: deleted records only by queryAll.
    const bounded = `SELECT Id FROM Contact WHERE Id >= '${salesforce.idOf('Contact', 1)}'`;
    expect((await json(await soql(bounded, true))).totalSize).toBe(everything.totalSize);
    expect((await json(await soql(bounded))).totalSize).toBe(live.totalSize);
  });

  it('answers unsupported or wrong SOQL with Salesforce errors', async () => {
    const or = await soql("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b'");
    expect(or.status).toBe(400);
    expect(await json(or)).toEqual([
      { errorCode: 'MALFORMED_QUERY', message: expect.stringContaining('OR') },
    ]);
    await expect(conn.query('SELECT Id FROM Account GROUP BY Name')).rejects.toMatchObject({
      errorCode: 'MALFORMED_QUERY',
    });
    await expect(conn.query('SELECT Nope FROM Account')).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD',
    });
    await expect(conn.query('SELECT Id FROM Widget__c')).rejects.toMatchObject({ errorCode: 'INVALID_TYPE' });
    await expect(conn.query('SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:3')).rejects.toMatchObject({
      errorCode: 'MALFORMED_QUERY',
    });
    expect(await json(await soql('SELECT COUNT() FROM Lead'))).toEqual({
      totalSize: SEEDED,
      done: true,
      records: [],
    });
    const versions = await json(await fetch(`${sim.url}/services/data`));
    expect(versions).toContainEqual({ label: "Winter '24", url: '/services/data/v59.0', version: '59.0' });
  });

  it('completes the OAuth web server flow through the consent page, and refreshes with and without rotation', async () => {
    const redirectUri = 'http://127.0.0.1:1/callback';
    // login.salesforce.com and test.salesforce.com both map to the simulator's origin.
    const oauth2 = new OAuth2({ loginUrl: sim.url, redirectUri, ...CLIENT });
    const consent = async () => {
      const authorize = await fetch(oauth2.getAuthorizationUrl({ scope: 'api refresh_token', state: 'xyz' }));
      expect(authorize.status).toBe(200);
      expect(await authorize.text()).toContain('id="allow"');
      const answer = await fetch(`${sim.url}/__sim/consent`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          ...{ client_id: CLIENT.clientId, redirect_uri: redirectUri },
          state: 'xyz',
          scope: 'api refresh_token',
          decision: 'allow',
        }),
      });
      const location = new URL(answer.headers.get('location')!);
      expect(location.searchParams.get('state')).toBe('xyz');
      return location.searchParams.get('code')!;
    };

    const tokens = (await oauth2.requestToken(await consent())) as unknown as Record<string, string>;
    expect(tokens).toMatchObject({
      token_type: 'Bearer',
      instance_url: sim.url,
      scope: 'api refresh_token',
      id: expect.stringMatching(new RegExp(`^${sim.url}/id/00D\\w{15}/005\\w{15}$`)),
      issued_at: expect.stringMatching(/^\d{13}$/),
    });
    expect(tokens).not.toHaveProperty('expires_in');
    expect(tokens.signature).toBe(
      createHmac('sha256', CLIENT.clientSecret)
        .update(tokens.id! + tokens.issued_at)
        .digest('base64'),
    );
    const userinfo = await json(await api('/services/oauth2/userinfo', {}, tokens.access_token));
    expect(userinfo).toMatchObject({
      organization_id: salesforce.account.accountId,
      user_id: salesforce.account.userId,
    });

    const authorized = new Connection({ oauth2, version: '59.0' });
    const user = await authorized.authorize(await consent());
    expect(user).toMatchObject({
      organizationId: salesforce.account.accountId,
      id: salesforce.account.userId,
    });
    expect(authorized.instanceUrl).toBe(sim.url);
    expect((await authorized.identity()).username).toMatch(/@/);
    expect((await authorized.query('SELECT Id FROM Lead LIMIT 3')).records).toHaveLength(3);

    // Without rotation a refresh returns no refresh token; the old one keeps working.
    const refreshed = (await oauth2.refreshToken(tokens.refresh_token!)) as unknown as Record<string, string>;
    expect(refreshed.access_token).toBeDefined();
    expect(refreshed).not.toHaveProperty('refresh_token');
    await control('faults', { rotate_refresh_tokens: true });
    const rotated = (await oauth2.refreshToken(tokens.refresh_token!)) as unknown as Record<string, string>;
    expect(rotated.refresh_token).toBeDefined();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oauth2.refreshToken(tokens.refresh_token!)).rejects.toMatchObject({
      name: 'invalid_grant',
      message: 'expired access/refresh token',
    });
    await control('faults', { rotate_refresh_tokens: false });
  });

  it('answers an expired session with INVALID_SESSION_ID, and jsforce refreshes and retries', async () => {
    const issued = await control('tokens', {});
    const refreshing = new Connection({
      oauth2: { loginUrl: sim.url, ...CLIENT },
      instanceUrl: issued.instance_url,
      accessToken: issued.access_token,
      refreshToken: issued.refresh_token,
      version: '59.0',
    });
    const before = (await control('stats')).token_refreshes;
    await control('faults', { expire_tokens_now: true });
    const expired = await api('/services/data/v59.0/limits', {}, issued.access_token);
    expect(expired.status).toBe(401);
    expect(await json(expired)).toEqual([
      { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
    ]);
    const result = await refreshing.query('SELECT Id FROM Opportunity LIMIT 2');
    expect(result.records).toHaveLength(2);
    expect((await control('stats')).token_refreshes).toBe(before + 1);
    token = (await control('tokens', {})).access_token;
    conn = new Connection({ instanceUrl: sim.url, accessToken: token, version: '59.0' });
  });

  it('counts requests in Sforce-Limit-Info and answers REQUEST_LIMIT_EXCEEDED when the daily limit is spent', async () => {
    const call = () => api('/services/data/v59.0/sobjects');
    const first = await call();
    const [used, max] = first.headers
      .get('sforce-limit-info')!
      .replace('api-usage=', '')
      .split('/')
      .map(Number);
    expect(max).toBe(15_000);
    await control('limits', { daily_api_requests: used! + 2 });
    expect((await call()).headers.get('sforce-limit-info')).toBe(`api-usage=${used! + 1}/${used! + 2}`);
    await call();
    const limited = await call();
    expect(limited.status).toBe(403);
    expect(limited.headers.get('sforce-limit-info')).toBe(`api-usage=${used! + 2}/${used! + 2}`);
    expect(await json(limited)).toEqual([
      { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' },
    ]);
    await expect(conn.query('SELECT Id FROM Account LIMIT 1')).rejects.toMatchObject({
      errorCode: 'REQUEST_LIMIT_EXCEEDED',
    });
    await control('limits', { daily_api_requests: 15_000 });
    const limits = await conn.limits();
    expect(limits.DailyApiRequests).toMatchObject({ Max: 15_000 });

    // Injected storms answer the same way (Salesforce sends no 429 on the REST API).
    await control('faults', { rate_limit_rate: 1 });
    const storm = await call();
    expect(storm.status).toBe(403);
    expect(await json(storm)).toEqual([
      { message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' },
    ]);
    await control('faults', { rate_limit_rate: 0, error_rate: 1 });
    const broken = await call();
    expect(broken.status).toBe(500);
    expect(await json(broken)).toEqual([{ message: expect.any(String), errorCode: 'UNKNOWN_EXCEPTION' }]);
    await control('faults', { error_rate: 0 });
  });

  it('holds a million accounts and serves the first and last pages building about a page of records each', async () => {
    await control('seed', { object: 'Account', count: 1_000_000 });
    const heapBefore = process.memoryUsage().heapUsed;
    // Seeded records are generated on demand: count how many each answer makes the simulator build.
    const generated = vi.spyOn(salesforce.objects.Account!, 'generate');
    const built = () => {
      const n = generated.mock.calls.length;
      generated.mockClear();
      return n;
    };
    try {
      const first = await json(await soql('SELECT Id, Name FROM Account'));
      expect(first).toMatchObject({ totalSize: 1_000_000, done: false });
      expect(first.records).toHaveLength(2000);
      // Each batch costs about a batch of records, wherever it is in the million.
      expect(built()).toBeLessThanOrEqual(4000);
      const second = await json(await api(first.nextRecordsUrl));
      expect(second.records[0].Id).toBe(salesforce.idOf('Account', 2001));
      expect(built()).toBeLessThanOrEqual(4000);

      const lastId = salesforce.idOf('Account', 1_000_000);
      const last = await json(
        await soql(
          `SELECT Id, Name FROM Account WHERE Id > '${salesforce.idOf('Account', 999_000)}' ORDER BY Id LIMIT 2000`,
        ),
      );
      expect(last).toMatchObject({ totalSize: 1000, done: true });
      expect(last.records.at(-1).Id).toBe(lastId);
      // A range of Ids is counted without building its records: only the page's are built.
      expect(built()).toBeLessThanOrEqual(1000);
      const newest = await json(await soql('SELECT Id FROM Account ORDER BY Id DESC LIMIT 1'));
      expect(newest.records[0].Id).toBe(lastId);
      expect(built()).toBeLessThanOrEqual(4000);

      const job = await json(
        await api('/services/data/v59.0/jobs/query', {
          method: 'POST',
          body: JSON.stringify({ operation: 'queryAll', query: 'SELECT Id, Name FROM Account' }),
        }),
      );
      await control('clock', { advance_ms: 10_000 });
      expect(await json(await api(`/services/data/v59.0/jobs/query/${job.id}`))).toMatchObject({
        state: 'JobComplete',
        numberRecordsProcessed: 1_000_000,
      });
      // The query job counts the records without building them; its results are built a page at a time.
      expect(built()).toBeLessThanOrEqual(4000);
      const results = await api(`/services/data/v59.0/jobs/query/${job.id}/results?maxRecords=1000`);
      expect(results.headers.get('sforce-numberofrecords')).toBe('1000');
      expect(results.headers.get('sforce-locator')).not.toBe('null');
      expect((await results.text()).trim().split('\n')).toHaveLength(1001);
      expect(built()).toBeLessThanOrEqual(4000);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
    } finally {
      generated.mockRestore();
    }
  });
});
