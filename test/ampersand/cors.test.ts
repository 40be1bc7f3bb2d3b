import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { startTrellis, type TestTrellis } from '../helpers/trellis.ts';

/**
 * Browsers call the Platform API from the pages of the project's own product, on another origin:
 * the origins TRELLIS_CORS_ORIGINS allows get CORS answers (a preflight answered before any
 * credentials are asked for, and the allow-origin header on every answer, errors included);
 * other origins, and the Management API, get none.
 */

const PAGE = 'https://app.example.test';
const ELSEWHERE = 'https://evil.example.test';
const REQUESTED_HEADERS = 'x-amp-client,x-amp-client-version,x-api-key,content-type';

describe('CORS on the Platform API', () => {
  let t: TestTrellis;
  const servers: FastifyInstance[] = [];

  /** This Trellis's database and keys behind a second server whose allowed origins are `origins`. */
  async function serverAllowing(origins: string[]): Promise<string> {
    const deps = t.runtime.deps;
    const app = await buildServer({ ...deps, config: { ...deps.config, corsOrigins: origins } });
    servers.push(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  const preflight = (baseUrl: string, path: string, origin: string, method = 'GET') =>
    fetch(`${baseUrl}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': REQUESTED_HEADERS,
      },
    });

  const call = async (baseUrl: string, path: string, headers: Record<string, string>) => {
    const res = await fetch(`${baseUrl}${path}`, { headers });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : '' };
  };

  beforeAll(async () => {
    t = await startTrellis({
      roles: { api: true, worker: false },
      env: { TRELLIS_CORS_ORIGINS: `${PAGE}, http://localhost:3000` },
    });
  });
  afterAll(async () => {
    for (const app of servers) await app.close();
    await t?.stop();
  });

  it('answers a preflight from an allowed origin before authentication', async () => {
    for (const [path, method] of [
      ['/v1/projects/default/connections', 'GET'],
      ['/v1/projects/default/connections/abc', 'DELETE'],
      ['/v1/projects/default/integrations:batch', 'PUT'],
      ['/v1/providers/hubspot', 'GET'],
      // Even where nothing is served, so that the page can read the problem the request gets.
      ['/v1/no/such/path', 'POST'],
    ] as const) {
      const res = await preflight(t.baseUrl, path, PAGE, method);
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
      expect(res.headers.get('access-control-allow-methods')?.split(', ').sort()).toEqual([
        'DELETE',
        'GET',
        'PATCH',
        'POST',
        'PUT',
      ]);
      expect(res.headers.get('access-control-allow-headers')).toBe(
        'x-amp-client, x-amp-client-version, x-api-key, content-type, authorization',
      );
      expect(res.headers.get('access-control-max-age')).toBe('7200');
      expect(res.headers.get('vary')).toBe('origin');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(await res.text()).toBe('');
    }
    const local = await preflight(t.baseUrl, '/v1/projects/default', 'http://localhost:3000');
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
  });

  it('gives other origins no permission', async () => {
    const res = await preflight(t.baseUrl, '/v1/projects/default/connections', ELSEWHERE);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
    const actual = await call(t.baseUrl, '/v1/projects/default', {
      origin: ELSEWHERE,
      'x-api-key': t.apiKey,
    });
    expect(actual.status).toBe(200);
    expect(actual.headers.get('access-control-allow-origin')).toBeNull();
    expect(actual.headers.get('vary')).toBe('origin');
  });

  it('lets the page read every answer, errors included', async () => {
    const headers = { origin: PAGE, 'x-amp-client': 'react', 'x-amp-client-version': '2.16.1' };
    const answers = [
      [await call(t.baseUrl, '/v1/projects/default', { ...headers, 'x-api-key': t.apiKey }), 200],
      [await call(t.baseUrl, '/v1/providers', headers), 200],
      [await call(t.baseUrl, '/v1/projects/default', headers), 401],
      [await call(t.baseUrl, '/v1/projects/elsewhere', { ...headers, 'x-api-key': t.apiKey }), 404],
      [await call(t.baseUrl, '/v1/projects/default/topics', { ...headers, 'x-api-key': t.apiKey }), 501],
      [await call(t.baseUrl, '/v1/nothing', { ...headers, 'x-api-key': t.apiKey }), 404],
    ] as const;
    for (const [res, status] of answers) {
      expect(res.status).toBe(status);
      expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
      if (status >= 400) expectProblem(res, status);
    }
  });

  it('an OPTIONS request that is no preflight is an ordinary request', async () => {
    const res = await fetch(`${t.baseUrl}/v1/projects/default`, {
      method: 'OPTIONS',
      headers: { origin: PAGE, 'x-api-key': t.apiKey },
    });
    const body = await res.json();
    expect(res.status).toBe(405);
    expect(body).toMatchObject({ type: 'urn:trellis:problem:method-not-allowed' });
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
  });

  it('leaves the Management API without CORS', async () => {
    const res = await preflight(t.baseUrl, '/mgmt/v2/customers', PAGE);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.status).toBe(401);
    const actual = await call(t.baseUrl, '/mgmt/v2/customers', { origin: PAGE, 'x-api-key': t.apiKey });
    expect(actual.status).toBe(200);
    expect(actual.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows any origin with *, and none without the setting', async () => {
    const anyOrigin = await serverAllowing(['*']);
    const open = await preflight(anyOrigin, '/v1/projects/default', ELSEWHERE);
    expect(open.status).toBe(204);
    expect(open.headers.get('access-control-allow-origin')).toBe('*');
    expect(open.headers.get('vary')).toBeNull();
    const actual = await call(anyOrigin, '/v1/projects/default', {
      origin: ELSEWHERE,
      'x-api-key': t.apiKey,
    });
    expect(actual.headers.get('access-control-allow-origin')).toBe('*');

    const closed = await serverAllowing([]);
    const refused = await preflight(closed, '/v1/projects/default', PAGE);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expectProblem({ status: refused.status, headers: refused.headers, body: await refused.json() }, 401);
  });
});

describe('TRELLIS_CORS_ORIGINS', () => {
  const origins = (value: string | undefined) =>
    loadConfig({
      TRELLIS_ENCRYPTION_KEY: 'a'.repeat(64),
      ...(value === undefined ? {} : { TRELLIS_CORS_ORIGINS: value }),
    }).corsOrigins;

  it('takes exact origins, or * alone; none by default', () => {
    expect(origins(undefined)).toEqual([]);
    expect(origins('')).toEqual([]);
    expect(origins(' https://app.example.com , http://localhost:3000,')).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    expect(origins('HTTPS://App.Example.com')).toEqual(['https://app.example.com']);
    expect(origins('*')).toEqual(['*']);
  });

  it('refuses what a browser would never send as an origin', () => {
    for (const bad of [
      'https://app.example.com/',
      'https://app.example.com/path',
      'app.example.com',
      'ftp://files.example.com',
      'null',
      'https://app.example.com:443',
      '*,https://app.example.com',
    ])
      expect(() => origins(bad), bad).toThrow(ConfigError);
  });
});
