import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from '../helpers/mgmt-fixtures.ts';
import { type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Everything stored, as text: every row of every table in every schema. (A data-only `pg_dump`
 * says the same; Debian's pg_dump here is older than the embedded server, so the test reads the
 * rows itself.)
 */
async function dumpDatabase(url: string): Promise<string> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows: tables } = await db.query<{ schema: string; name: string }>(
    `select table_schema as schema, table_name as name from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
  );
  let dump = '';
  for (const t of tables) {
    const { rows } = await db.query(`select t::text as row from "${t.schema}"."${t.name}" t`);
    dump += `-- ${t.schema}.${t.name}\n${rows.map((r) => r.row).join('\n')}\n`;
  }
  await db.end();
  expect(tables.length).toBeGreaterThan(10);
  return dump;
}

describe('secrets at rest', () => {
  let t: TestTrellis;
  let api: Client;
  let webhookSecret: string;
  beforeAll(async () => {
    t = await startTrellis();
    api = client(t.baseUrl, t.apiKey);
    await createFixture(api, 'z');
    webhookSecret = (await api('POST', '/webhooks', { body: { url: 'http://127.0.0.1:9/x' } })).body.secret;
    await api('POST', '/customers/customer-z/connections', {
      body: {
        provider_name: 'gong',
        type: 'access_key_secret',
        access_key: 'gong-access-z',
        access_key_secret: 'gong-secret-z',
      },
    });
    await api('POST', '/customers/customer-z/connections', {
      body: {
        provider_name: 'salesforce',
        type: 'oauth2',
        refresh_token: 'salesforce-refresh-z',
        instance_url: 'https://acme.my.salesforce.test',
      },
    });
  });
  afterAll(() => t.stop());

  const secrets = () => [
    t.apiKey,
    webhookSecret,
    'pg-password-z',
    'client-secret-hubspot-client-z',
    'client-secret-sf-client-z',
    'apollo-key-z',
    'hubspot-refresh-z',
    'gong-secret-z',
    'gong-access-z',
    'salesforce-refresh-z',
  ];

  it('a dump of the database holds no plaintext client secret, password, token or API key', async () => {
    const dump = await dumpDatabase(t.databaseUrl);
    expect(dump).toContain('customer-z');
    for (const secret of secrets()) expect(dump, 'secret found in the database').not.toContain(secret);
    // The sealed values are there, in the vault's format.
    expect(dump).toMatch(/v1\.[\w-]+\.[\w-]+\.[\w-]+/);
  });

  it('no API response and no log line carries a secret', async () => {
    const responses = await Promise.all(
      [
        '/customers',
        '/destinations',
        '/providers',
        '/webhooks',
        '/magic_links',
        '/customers/customer-z/connections',
      ].map((p) => api('GET', p)),
    );
    const text = JSON.stringify(responses.map((r) => r.body)) + JSON.stringify(t.logs);
    for (const secret of secrets()) expect(text).not.toContain(secret);
  });
});
