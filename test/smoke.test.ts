import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, client, startTrellis, type TestTrellis } from './helpers/trellis.ts';

describe('smoke', () => {
  let t: TestTrellis;
  let api: Client;
  beforeAll(async () => {
    t = await startTrellis();
    api = client(t.baseUrl, t.apiKey);
  });
  afterAll(() => t.stop());

  it('upserts and reads a customer', async () => {
    const put = await api('PUT', '/customers', {
      body: { customer_id: 'c1', name: 'Acme', email: 'ops@acme.test' },
    });
    expect(put.status).toBe(200);
    const get = await api('GET', '/customers/c1');
    expect(get.body).toMatchObject({ customer_id: 'c1', name: 'Acme' });
  });
});
