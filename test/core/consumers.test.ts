import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection, findConnection } from '../../src/core/connections.ts';
import { deleteCustomer, upsertCustomer } from '../../src/core/customers.ts';
import { startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Consumers: the end users inside a customer who connect its accounts. No API surface names them
 * yet (the Ampersand dialect will), so the test calls the core's services on a running Trellis.
 */
describe('consumers', () => {
  let t: TestTrellis;
  let db: pg.Client;
  let projectId: string;

  beforeAll(async () => {
    t = await startTrellis();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    projectId = (await db.query(`select id from trellis.projects where name = 'default'`)).rows[0].id;
    await upsertCustomer(t.runtime.deps, projectId, { ref: 'acme', name: 'Acme', email: '' });
  });

  afterAll(async () => {
    await db?.end();
    await t?.stop();
  });

  const consumerRows = async () =>
    (await db.query('select ref, name from trellis.consumers order by ref')).rows as {
      ref: string;
      name: string;
    }[];

  it('a connection keeps who connected it; one consumer row per customer and ref, its name kept current', async () => {
    const deps = t.runtime.deps;
    const apollo = await createConnection(
      deps,
      projectId,
      'acme',
      { providerName: 'apollo', credentials: { authType: 'api_key', apiKey: 'k-1' } },
      { ref: 'user-1', name: 'Ada' },
    );
    expect(apollo.consumer).toEqual({ ref: 'user-1', name: 'Ada' });
    await createConnection(
      deps,
      projectId,
      'acme',
      {
        providerName: 'gong',
        credentials: { authType: 'access_key_secret', accessKey: 'a', accessKeySecret: 's' },
      },
      { ref: 'user-1', name: 'Ada Lovelace' },
    );
    expect(await consumerRows()).toEqual([{ ref: 'user-1', name: 'Ada Lovelace' }]);
    expect((await findConnection(deps, projectId, 'acme', 'apollo')).consumer).toEqual({
      ref: 'user-1',
      name: 'Ada Lovelace',
    });
  });

  it('a connection made without one names none, and consumers go with their customer', async () => {
    const deps = t.runtime.deps;
    await upsertCustomer(deps, projectId, { ref: 'globex', name: 'Globex', email: '' });
    const plain = await createConnection(deps, projectId, 'globex', {
      providerName: 'apollo',
      credentials: { authType: 'api_key', apiKey: 'k-2' },
    });
    expect(plain.consumer).toBeNull();
    await deleteCustomer(deps, projectId, 'acme');
    expect(await consumerRows()).toEqual([]);
  });
});
