import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_CONTRACT } from '../../src/api/ampersand-write/openapi.ts';
import { listWriteOperations } from '../../src/core/operations.ts';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type AmpersandData, INTEGRATION, startAmpersandData } from '../helpers/ampersand-data.ts';
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
import { connectorsClient, storeBody } from '../helpers/connectors-api.ts';
import { simControl } from '../helpers/simulator.ts';

/**
 * Bad input to the Write API (/write/v1), generated from its document (bodies of the wrong type,
 * required fields left out, enum values it lacks, strings over their length, batches of 0 and 101,
 * broken JSON, other media types) and written for what the document cannot say: bad credentials,
 * unknown projects, integrations, objects and groups, what Trellis does not write (associations,
 * headers, all-or-none batches), records it cannot name, and connections named by the Trellis
 * extension `x-trellis-connection-id` that it does not write to (a customer's, another project's,
 * none; with a group too; under an integration instead of the connection's provider; an object
 * the provider does not write). Every answer is a 4xx problem+json
 * (decision 0014: also the 400 the document gives a text/plain body), no request reaches the
 * provider, and no write operation is recorded. The request the cases are made from is written.
 */

const [OPERATION] = documentOperations(WRITE_CONTRACT.document as unknown as Document);
const PATH = { projectIdOrName: 'default', integrationId: INTEGRATION, objectName: 'contacts' };
const RECORD = { email: 'fuzz@example.test', firstname: 'Fuzz' };
const VALID_BODY = { groupRef: 'acme', type: 'create', mode: 'synchronous', record: RECORD };

describe('bad input to the Write API', () => {
  let data: AmpersandData;
  let intruder: Awaited<ReturnType<typeof createProject>>;
  /** A connector of the project (HubSpot), and one of the intruder's (Apollo). */
  let connectorId: string;
  let intrudersConnectorId: string;

  const validRequest = (): RequestCase => ({
    name: 'valid',
    method: 'POST',
    path: `/write/v1${fillPath(OPERATION!.path, PATH)}`,
    headers: { 'x-api-key': data.t.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(VALID_BODY),
    expect: 200,
  });

  beforeAll(async () => {
    data = await startAmpersandData();
    intruder = await createProject(data.t.runtime.deps.db, 'intruder');
    const connector = async (apiKey: string, body: Record<string, unknown>) => {
      const res = await connectorsClient(data.t.baseUrl, apiKey)('POST', '/', { body: storeBody(body) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data.id as string;
    };
    connectorId = await connector(data.t.apiKey, {
      authentication_implementation_id: 'hubspot:oauth2',
      variables: [
        { key: 'refresh_token', value: (await simControl(data.sim.url, 'tokens', {})).refresh_token },
      ],
    });
    intrudersConnectorId = await connector(intruder.apiKey, {
      authentication_implementation_id: 'apollo:api_key',
      variables: [{ key: 'api_key', value: 'intruders-key' }],
    });
  });
  afterAll(async () => {
    await data?.stop();
  });

  function cases(): RequestCase[] {
    const out: RequestCase[] = [];
    const add = (name: string, expect: Expected, change: (c: RequestCase) => void) => {
      const c = { ...validRequest(), name, expect };
      change(c);
      out.push(c);
    };
    const path = (values: Partial<typeof PATH>) => (c: RequestCase) => {
      c.path = `/write/v1${fillPath(OPERATION!.path, { ...PATH, ...values })}`;
    };
    const body = (json: unknown) => (c: RequestCase) => {
      c.body = JSON.stringify(json);
    };

    for (const [name, key] of badApiKeys(data.t.apiKey))
      add(name, 401, (c) => {
        if (key === undefined) delete c.headers['x-api-key'];
        else c.headers['x-api-key'] = key;
      });
    add('a bearer token instead', 401, (c) => {
      delete c.headers['x-api-key'];
      c.headers.authorization = 'Bearer e30.e30.e30';
    });
    add("another project's key, on its own project", 404, (c) => {
      c.headers['x-api-key'] = intruder.apiKey;
      path({ projectIdOrName: intruder.project.name })(c);
    });

    // A path naming nothing: the project is refused first, an integration is not found, an object
    // the installation does not write is a 400 (decision 0014).
    const objectExpect = (expected: Expected): Expected => (expected === 404 ? 400 : expected);
    for (const [value, expected] of [...BAD_IDS, [crypto.randomUUID(), 404] as const]) {
      const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 10)}…` : value);
      add(`path projectIdOrName=${shown}`, expected, path({ projectIdOrName: value }));
      add(`path integrationId=${shown}`, expected, path({ integrationId: value }));
      add(`path objectName=${shown}`, objectExpect(expected), path({ objectName: value }));
    }
    add('path projectIdOrName of another project', 404, path({ projectIdOrName: intruder.project.name }));
    add(
      'an object the integration writes but the installation did not choose',
      400,
      path({ objectName: 'deals' }),
    );
    add('an object the integration does not write', 400, path({ objectName: 'companies' }));
    add('a path of no operation', 404, (c) => {
      c.path = `${c.path}/more`;
    });
    add('a method the path does not have', 405, (c) => {
      c.method = 'PUT';
    });

    for (const mode of ['synchronous', 'asynchronous']) {
      const of = (changes: Record<string, unknown>) => body({ ...VALID_BODY, mode, ...changes });
      add(`${mode}: a group with no installation`, 404, of({ groupRef: 'nobody' }));
      add(`${mode}: a hostile group`, 404, of({ groupRef: HOSTILE }));
      add(`${mode}: a group holding NUL`, '4xx', of({ groupRef: NUL }));
      add(`${mode}: neither record nor batch`, 400, of({ record: undefined }));
      add(`${mode}: both record and batch`, 400, of({ batch: [{ record: RECORD }] }));
      add(`${mode}: an update without the record's id`, 400, of({ type: 'update' }));
      add(
        `${mode}: a delete of a batch without ids`,
        400,
        of({ type: 'delete', record: undefined, batch: [{ record: RECORD }] }),
      );
      add(`${mode}: an update of an empty id`, 400, of({ type: 'update', record: { ...RECORD, id: '' } }));
      add(`${mode}: associations`, 400, of({ associations: [{ to: { id: '1' } }] }));
      add(
        `${mode}: a batch record's associations`,
        400,
        of({ record: undefined, batch: [{ record: RECORD, associations: [{}] }] }),
      );
      add(`${mode}: headers`, 400, of({ headers: [{ key: 'a', value: 'b' }] }));
      add(
        `${mode}: all or none`,
        400,
        of({ record: undefined, batch: [{ record: RECORD }], batchPolicy: { allOrNone: true } }),
      );
    }

    // A connection the project owns, named by the Trellis extension: the path's integration is its
    // provider, and no group is sent.
    const CONNECTION_HEADER = 'x-trellis-connection-id';
    const { groupRef: _, ...withoutGroup } = VALID_BODY;
    const connection =
      (connectionId: string, provider = 'hubspot', changes: Record<string, unknown> = {}) =>
      (c: RequestCase) => {
        c.headers[CONNECTION_HEADER] = connectionId;
        path({ integrationId: provider })(c);
        body({ ...withoutGroup, ...changes })(c);
      };
    add("a customer's connection named as the project's", 404, (c) =>
      connection(data.installation.connectionId)(c),
    );
    add("another project's connector", 404, connection(intrudersConnectorId, 'apollo'));
    add("the project's connector, with another project's key", 404, (c) => {
      connection(connectorId)(c);
      c.headers['x-api-key'] = intruder.apiKey;
      path({ projectIdOrName: intruder.project.name, integrationId: 'hubspot' })(c);
    });
    for (const [value, expected] of [...BAD_IDS, [crypto.randomUUID(), 404] as const]) {
      if (value === NUL) continue; // no header can hold it
      const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 10)}…` : value);
      // Past the contract's length limit for a header value, 400 is as right as 404.
      add(`connection ${shown}`, value.length > 512 ? '4xx' : expected, connection(value));
    }
    add('a connector and a group', 400, (c) => {
      connection(connectorId)(c);
      body(VALID_BODY)(c);
    });
    add('neither a connector nor a group', 400, body(withoutGroup));
    add('an empty connection header and no group', 400, (c) => {
      connection(connectorId)(c);
      c.headers[CONNECTION_HEADER] = '';
    });
    add(
      'a connector under an integration instead of its provider',
      404,
      connection(connectorId, INTEGRATION),
    );
    add('a connector under another provider', 404, connection(connectorId, 'apollo'));
    add('a connector and an object its provider does not write', 400, (c) => {
      connection(connectorId)(c);
      path({ integrationId: 'hubspot', objectName: 'owners' })(c);
    });
    add(
      "a connector's update without the record's id",
      400,
      connection(connectorId, 'hubspot', { type: 'update' }),
    );
    add(
      "a connector's asynchronous update without the record's id",
      400,
      connection(connectorId, 'hubspot', { type: 'update', mode: 'asynchronous' }),
    );

    // An asynchronous write keeps its records until it runs, and no stored text can hold NUL (a
    // synchronous one passes them to the provider, which answers for itself).
    const later = { ...VALID_BODY, mode: 'asynchronous' };
    add('asynchronous: a record holding NUL', '4xx', body({ ...later, record: { email: NUL } }));
    add(
      "asynchronous: a record's id holding NUL",
      '4xx',
      body({ ...later, type: 'update', record: { id: NUL } }),
    );
    for (const c of bodyCases(OPERATION!, VALID_BODY, 200)) out.push(withBody(validRequest(), c));
    return out;
  }

  it('refuses every bad request with a 4xx problem, and nothing reaches the provider', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(100);
    const from = data.recorder.exchanges.length;
    const { wrong } = await sendCases(data.t.baseUrl, all, (res) => expectProblem(res, res.status));
    expect(wrong).toEqual([]);
    expect(data.recorder.exchanges.slice(from).map((e) => `${e.method} ${e.path}`)).toEqual([]);
    // A refused write is no operation, of an installation or of a connection.
    const deps = data.t.runtime.deps;
    for (const project of [data.projectId, intruder.project.id])
      expect(await listWriteOperations(deps, project)).toEqual([]);
  });

  it('writes the request the cases were made from', async () => {
    const from = data.recorder.exchanges.length;
    const res = await sendRaw(data.t.baseUrl, validRequest());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const calls = data.recorder.exchanges.slice(from).filter((e) => !e.path.startsWith('/oauth/'));
    expect(calls.map((e) => `${e.method} ${e.path.split('?')[0]}`)).toEqual([
      'POST /crm/v3/objects/contacts',
    ]);
  });

  it('logged no error', () => {
    expect(data.t.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });
});
