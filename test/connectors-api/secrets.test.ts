import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCLUDES } from '../../src/api/connectors/query-translation.ts';
import { SEALED_COLUMNS } from '../../src/auth/vault.ts';
import {
  type ConnectorsSetup,
  simCredentials,
  startConnectorsApi,
  storeBody,
} from '../helpers/connectors-api.ts';
import { simControl } from '../helpers/simulator.ts';
import type { ApiResponse } from '../helpers/trellis.ts';

/**
 * Secret variables of connectors (credentials, and secrets of the project's own) are sealed at
 * rest and never come back: not in any answer of any operation with any include, not in a log
 * line, not in the database as text (every column of every row of every Trellis table, and the job
 * queue's). Their sealed values open to what was sent, and work.
 */

describe('secret variables of connectors', () => {
  let s: ConnectorsSetup;
  const answers: ApiResponse[] = [];
  const secrets: string[] = [];
  let apolloId: string;

  const call: ConnectorsSetup['api'] = async (method, path, opts) => {
    const res = await s.api(method, path, opts);
    answers.push(res);
    return res;
  };

  beforeAll(async () => {
    s = await startConnectorsApi();
    const apolloKey = (await simCredentials(s.sims.apollo)).api_key!;
    const gong = await simCredentials(s.sims.gong);
    const refreshToken = (await simCredentials(s.sims.hubspot)).refresh_token!;
    const ownSecret = 'own-secret-value-0123456789';
    secrets.push(apolloKey, gong.access_key!, gong.access_key_secret!, refreshToken, ownSecret);

    const apollo = await call('POST', '/', {
      body: storeBody({
        name: 'Apollo',
        authentication_implementation_id: 'apollo:api_key',
        variables: [
          { key: 'api_key', value: apolloKey, secret: false },
          { key: 'signing_secret', value: ownSecret, secret: true },
        ],
      }),
    });
    expect(apollo.status).toBe(200);
    apolloId = apollo.body.data.id;
    for (const body of [
      storeBody({
        name: 'Gong',
        authentication_implementation_id: 'gong:access_key_secret',
        variables: [
          { key: 'access_key', value: gong.access_key },
          { key: 'access_key_secret', value: gong.access_key_secret },
        ],
      }),
      storeBody({
        name: 'HubSpot',
        authentication_implementation_id: 'hubspot:oauth2',
        variables: [{ key: 'refresh_token', value: refreshToken }],
      }),
    ])
      expect((await call('POST', '/', { body })).status).toBe(200);
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('are sealed, open to what was sent, and work with the provider', async () => {
    const deps = s.t.runtime.deps;
    const { rows } = await deps.db.query<{ sealed: string }>(
      'select secret_settings_sealed as sealed from connections where id = $1',
      [apolloId],
    );
    expect(deps.vault.openJson(rows[0]!.sealed, SEALED_COLUMNS.connectionSecretSettings, apolloId)).toEqual({
      signing_secret: secrets[4],
    });
    const listed = await call('GET', '/', { query: { include: 'variables' } });
    for (const connector of listed.body.data) {
      expect((await call('POST', `/${connector.id}/test`)).status, connector.name).toBe(200);
      // A credential is secret whatever the body said of it.
      for (const v of connector.variables)
        expect(v, `${connector.name} ${v.key}`).toMatchObject({ value: null, secret: true });
    }
  });

  it('are never answered, logged or stored as text', async () => {
    // Every operation, every include, a refused test and updates that keep and replace secrets.
    await call('GET', '/', { query: { include: INCLUDES.join(',') } });
    await call('GET', `/${apolloId}`, { query: { include: INCLUDES.join(',') } });
    await call('PUT', `/${apolloId}`, {
      body: { name: 'Apollo 2', variables: [{ key: 'api_key' }, { key: 'signing_secret' }] },
    });
    await simControl(s.sims.apollo.url, 'faults', { expire_tokens_now: true });
    expect((await call('POST', `/${apolloId}/test`)).status).toBe(422);
    const replaced = (await simCredentials(s.sims.apollo)).api_key!;
    secrets.push(replaced);
    await call('PUT', `/${apolloId}`, {
      body: {
        variables: [
          { key: 'api_key', value: replaced },
          { key: 'signing_secret', value: null },
        ],
      },
    });
    expect((await call('POST', `/${apolloId}/test`)).status).toBe(200);
    const doomed = await call('POST', '/', {
      body: storeBody({
        name: 'Doomed',
        authentication_implementation_id: 'apollo:api_key',
        variables: [{ key: 'api_key', value: replaced }],
      }),
    });
    await call('DELETE', `/${doomed.body.data.id}`);

    const answered = answers
      .map((a) => (typeof a.body === 'string' ? a.body : JSON.stringify(a.body)))
      .join('\n');
    const logged = JSON.stringify(s.t.logs);
    const db = new pg.Client({ connectionString: s.t.databaseUrl });
    await db.connect();
    try {
      const { rows: tables } = await db.query<{ schema: string; table: string }>(
        `select table_schema as schema, table_name as table from information_schema.tables
          where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'`,
      );
      expect(tables.map((t) => t.table)).toContain('connections');
      let stored = '';
      for (const { schema, table } of tables) {
        const { rows } = await db.query<{ row: string }>(
          `select t::text as row from "${schema}"."${table}" t`,
        );
        stored += rows.map((r) => r.row).join('\n');
      }
      expect(stored).toContain('Apollo 2');
      for (const secret of secrets) {
        expect(answered, 'an answer holds a secret').not.toContain(secret);
        expect(logged, 'a log line holds a secret').not.toContain(secret);
        expect(stored, 'the database holds a secret as text').not.toContain(secret);
      }
    } finally {
      await db.end();
    }
  });
});
