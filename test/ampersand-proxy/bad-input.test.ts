import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_CONTRACT } from '../../src/api/ampersand-proxy/openapi.ts';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type AmpersandData, INTEGRATION, startAmpersandData } from '../helpers/ampersand-data.ts';
import {
  badApiKeys,
  type Document,
  documentOperations,
  type Expected,
  HOSTILE,
  headerCases,
  type RequestCase,
  sendCases,
  sendRaw,
} from '../helpers/bad-input.ts';

/**
 * Bad input to the proxy (/proxy), generated from its document's header parameters and written
 * for what it passes through: bad credentials, proxy headers missing, empty, of another version,
 * over their length or naming no installation (or one the other headers do not name), bodies over
 * its limit, and provider paths that try to leave the provider (`//host`, `http://host`, dot
 * segments, raw and percent-encoded). Each is refused with a 4xx problem before anything reaches
 * the provider, and nothing reaches any other host: another loopback server stands in for one.
 * A request with none of these faults reaches the provider and nothing else.
 */

const OPERATIONS = documentOperations(PROXY_CONTRACT.document as unknown as Document);
const PROVIDER_PATH = '/crm/v3/objects/contacts?limit=1';

describe('bad input to the proxy', () => {
  let data: AmpersandData;
  let intruder: Awaited<ReturnType<typeof createProject>>;
  /** A server no proxied request may reach, and what reached it. */
  let elsewhere: http.Server;
  let elsewhereHost: string;
  const reachedElsewhere: string[] = [];

  /** The requests that reached the provider since `from`, on its API (not its token endpoint). */
  const reachedProvider = (from: number) =>
    data.recorder.exchanges.slice(from).filter((e) => !e.path.startsWith('/oauth/'));

  beforeAll(async () => {
    elsewhere = http.createServer((req, res) => {
      reachedElsewhere.push(`${req.method} ${req.url}`);
      res.end('reached');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const address = elsewhere.address();
    elsewhereHost = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    data = await startAmpersandData();
    intruder = await createProject(data.t.runtime.deps.db, 'intruder');
  });
  afterAll(async () => {
    await data?.stop();
    await new Promise((resolve) => elsewhere?.close(resolve));
  });

  /** A request the proxy passes on: acme's installation, by its integration's name and acme's ref. */
  const validRequest = (method: string) => ({
    method,
    path: `/proxy${PROVIDER_PATH}`,
    headers: {
      'x-api-key': data.t.apiKey,
      'x-amp-proxy-version': '1',
      'x-amp-project-id': data.projectId,
      'x-amp-integration-name': INTEGRATION,
      'x-amp-group-ref': 'acme',
    } as Record<string, string>,
  });

  /** The bad requests of one method, each otherwise valid. */
  function casesFor(op: (typeof OPERATIONS)[number]): RequestCase[] {
    const cases: RequestCase[] = [];
    const add = (name: string, expect: Expected, change: (c: RequestCase) => void) => {
      const c: RequestCase = { ...validRequest(op.method), name, expect };
      change(c);
      cases.push(c);
    };
    const header = (name: string, value: string | undefined) => (c: RequestCase) => {
      if (value === undefined) delete c.headers[name];
      else c.headers[name] = value;
    };

    for (const [name, key] of badApiKeys(data.t.apiKey)) add(name, 401, header('x-api-key', key));
    add('a bearer token instead', 401, (c) => {
      delete c.headers['x-api-key'];
      c.headers.authorization = 'Bearer e30.e30.e30';
    });
    for (const { name, header: h, value, expect } of headerCases(op)) add(name, expect, header(h, value));

    for (const version of ['2', '0', '1.0', 'v1', '1,1'])
      add(`proxy version ${version}`, 400, header('x-amp-proxy-version', version));
    for (const [what, project] of [
      ['names nothing', 'no-such-project'],
      ['is hostile', HOSTILE],
      ["is another project's id", intruder.project.id],
      ["is another project's name", intruder.project.name],
      ['is a random uuid', crypto.randomUUID()],
    ])
      add(`x-amp-project-id ${what}`, 404, header('x-amp-project-id', project));
    // The API key of another project, which names its own project: the installation is not its.
    add("another project's key, on this project's installation", 404, (c) => {
      c.headers['x-api-key'] = intruder.apiKey;
      c.headers['x-amp-project-id'] = intruder.project.id;
      c.headers['x-amp-installation-id'] = data.installation.id;
    });

    for (const [what, id] of [
      ['not a uuid', 'not-a-uuid'],
      ['hostile', HOSTILE],
      ['unknown', crypto.randomUUID()],
      ['of another group', data.otherInstallation.id],
    ])
      add(`x-amp-installation-id ${what}`, 404, header('x-amp-installation-id', id));
    add('x-amp-installation-id of another integration than named', 404, (c) => {
      c.headers['x-amp-installation-id'] = data.installation.id;
      c.headers['x-amp-integration-name'] = 'another-integration';
    });
    add(
      'x-amp-integration-name naming nothing',
      404,
      header('x-amp-integration-name', 'no-such-integration'),
    );
    add('x-amp-integration-name hostile', 404, header('x-amp-integration-name', HOSTILE));
    add('x-amp-group-ref naming nothing', 404, header('x-amp-group-ref', 'nobody'));
    add('x-amp-group-ref hostile', 404, header('x-amp-group-ref', HOSTILE));
    add('x-amp-integration-name without x-amp-group-ref', 400, header('x-amp-group-ref', undefined));
    add('x-amp-group-ref without x-amp-integration-name', 400, header('x-amp-integration-name', undefined));
    add('no installation named at all', 400, (c) => {
      delete c.headers['x-amp-group-ref'];
      delete c.headers['x-amp-integration-name'];
    });

    // Provider paths that try to leave the provider's host, or climb out of its base URL.
    const away = elsewhereHost;
    for (const path of [
      `//${away}/x`,
      `/http://${away}/x`,
      `/\\\\${away}/x`,
      `/..`,
      `/../x`,
      `/crm/../../x`,
      `/./crm/v3/objects/contacts`,
      `/%2e%2e/x`,
      `/%2E%2e/%2e%2E/x`,
      `/crm/%2e%2e/%2e%2e/x`,
      `/crm//v3/objects/contacts`,
      `/crm/v3/objects/contacts/%E0%A4%A`,
    ])
      add(`provider path ${path}`, 400, (c) => {
        c.path = `/proxy${path}`;
      });

    // The request line in absolute form names a host, as requests to forward proxies do.
    add('a request line naming a host', 400, (c) => {
      c.path = `http://${away}${c.path}`;
    });

    if (op.method !== 'GET') {
      add('a body over 5 MB', 413, (c) => {
        c.headers['content-type'] = 'application/octet-stream';
        c.body = Buffer.alloc(5 * 1024 * 1024 + 1);
      });
    } else {
      add('a GET with a body', 400, (c) => {
        c.headers['content-type'] = 'application/json';
        c.body = Buffer.from('{}');
      });
    }
    return cases;
  }

  it('refuses every bad request with a 4xx problem before it reaches the provider, or anything else', async () => {
    const cases = OPERATIONS.flatMap(casesFor);
    expect(cases.length).toBeGreaterThan(200);
    const from = data.recorder.exchanges.length;
    const { wrong } = await sendCases(data.t.baseUrl, cases, (res) => expectProblem(res, res.status));
    expect(wrong).toEqual([]);
    expect(reachedProvider(from).map((e) => `${e.method} ${e.path}`)).toEqual([]);
    expect(reachedElsewhere).toEqual([]);
  });

  it('passes a request without those faults to the provider, and nothing else', async () => {
    const from = data.recorder.exchanges.length;
    const res = await sendRaw(data.t.baseUrl, validRequest('GET'));
    expect(res.status).toBe(200);
    // A path that only looks like a URL is a path on the provider's host, which answers it.
    const lookalike = `/https:/${elsewhereHost}/x`;
    const elsewhereLike = await sendRaw(data.t.baseUrl, {
      ...validRequest('GET'),
      path: `/proxy${lookalike}`,
    });
    expect(elsewhereLike.status).toBe(404);

    expect(reachedProvider(from).map((e) => `${e.method} ${e.path}`)).toEqual([
      `GET ${PROVIDER_PATH}`,
      `GET ${lookalike}`,
    ]);
    expect(reachedElsewhere).toEqual([]);
  });

  it('logged no error', () => {
    expect(data.t.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });
});
