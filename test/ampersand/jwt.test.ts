import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../../src/core/projects.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { base64url, browserClaims, nowSeconds, rs256Token } from '../helpers/browser-tokens.ts';
import { type ApiResponse, type Client, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { answerChecker } from './contract-check.ts';

/**
 * Browser tokens on the Platform API: a project registers RSA public keys (jwt-keys, validated
 * against the document), its server signs RS256 JWTs for one group and consumer, and a page calls
 * with `Authorization: Bearer` instead of the API key. A token does what the embedded UI does, for
 * its own group only: other groups' connections and installations are not found (404), requests
 * naming another group are forbidden (403), admin operations are forbidden (403), and a token that
 * is expired, badly signed, of an inactive or deleted key, or of another algorithm is refused (401).
 */

const PAGE = 'https://app.example.test';
const OPERATIONS = ['createJWTKey', 'listJWTKeys', 'getJWTKey', 'updateJWTKey', 'deleteJWTKey'];

const rsaKeys = (modulusLength = 2048) =>
  generateKeyPairSync('rsa', {
    modulusLength,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
const signer = rsaKeys();
const stranger = rsaKeys();
const otherProjectSigner = rsaKeys();

/** Values that no answer may contain: the private keys and the connections' secrets. */
const SECRETS = [
  signer.privateKey,
  stranger.privateKey,
  otherProjectSigner.privateKey,
  'hs-refresh-acme',
  'hs-refresh-globex',
  'hs-client-secret',
];

const { check, neverSucceeded } = answerChecker(SECRETS);

/** The claims of a token for `groupRef`, as user-1. */
const claimsFor = (groupRef: string, more: object = {}) => browserClaims(groupRef, 'user-1', more);

const MANIFEST = `
specVersion: 1.0.0
integrations:
  - name: hubspot-contacts
    displayName: HubSpot contacts
    provider: hubspot
    read:
      objects:
        - objectName: contacts
          destination: Supaglue Managed Destination
          schedule: "*/10 * * * *"
          requiredFields: [{ fieldName: email }]
`;

describe('Platform API browser tokens (JWT) and JWT keys', () => {
  let t: TestTrellis;
  let mgmt: Client;
  let projectId: string;
  let kid: string;
  let otherProject: { name: string; apiKey: string; kid: string };
  const connections: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
  let integrationId: string;
  let globexInstallation: string;

  /** A Platform API call with the API key, or with `token` instead; every answer checked against the document. */
  async function api(
    method: string,
    urlPath: string,
    opts: { token?: string; key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse> {
    const [pathPart, query] = urlPath.split('?');
    const headers: Record<string, string> = {
      ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
      ...(opts.token !== undefined && opts.key === undefined ? { 'x-api-key': '' } : {}),
      ...opts.headers,
    };
    const res = await client(t.baseUrl, opts.key ?? (opts.token === undefined ? t.apiKey : ''), '/v1')(
      method,
      pathPart!,
      {
        query: Object.fromEntries(new URLSearchParams(query ?? '')),
        headers,
        ...(opts.body === undefined ? {} : { body: opts.body }),
      },
    );
    check(method, urlPath, res);
    return res;
  }
  const tokenFor = (groupRef: string, more: object = {}) =>
    rs256Token(signer.privateKey, { kid }, claimsFor(groupRef, more));

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false }, env: { TRELLIS_CORS_ORIGINS: PAGE } });
    mgmt = client(t.baseUrl, t.apiKey);
    await mgmt('POST', '/providers', {
      body: {
        auth_type: 'oauth2',
        category: 'crm',
        name: 'hubspot',
        config: {
          provider_app_id: '',
          oauth: {
            oauth_scopes: ['oauth'],
            credentials: { oauth_client_id: 'hs-client', oauth_client_secret: 'hs-client-secret' },
          },
        },
      },
    });
    for (const group of ['acme', 'globex'] as const) {
      await mgmt('PUT', '/customers', {
        body: { customer_id: group, name: group, email: `ops@${group}.test` },
      });
      const made = await mgmt('POST', `/customers/${group}/connections`, {
        body: { provider_name: 'hubspot', type: 'oauth2', refresh_token: `hs-refresh-${group}` },
      });
      expect(made.status, JSON.stringify(made.body)).toBe(200);
      connections[group] = made.body.id;
    }
    projectId = (await mgmt('GET', '/customers/acme')).body.application_id;
    const deployed = await api('PUT', '/projects/default/integrations:batch', {
      body: { sourceYaml: MANIFEST },
    });
    expect(deployed.status).toBe(200);
    integrationId = deployed.body[0].id;
    const installed = await api('POST', `/projects/default/integrations/${integrationId}/installations`, {
      body: { groupRef: 'globex', config: { content: { provider: 'hubspot' } } },
    });
    expect(installed.status, JSON.stringify(installed.body)).toBe(201);
    globexInstallation = installed.body.id;

    const made = await api('POST', '/projects/default/jwt-keys', {
      body: { label: 'server-1', algorithm: 'RS256', publicKeyPem: signer.publicKey },
    });
    kid = made.body.kid;

    const other = await createProject(t.runtime.deps.db, 'other-project');
    const otherKey = await api('POST', '/projects/other-project/jwt-keys', {
      key: other.apiKey,
      body: { label: 'theirs', algorithm: 'RS256', publicKeyPem: otherProjectSigner.publicKey },
    });
    otherProject = { name: other.project.name, apiKey: other.apiKey, kid: otherKey.body.kid };
  });
  afterAll(() => t?.stop());

  it('JWT keys: registered (201 with its kid), listed, read, relabelled and turned off by update mask, deleted', async () => {
    expect(kid).toMatch(/^[0-9a-f-]{36}$/);
    const shown = {
      id: kid,
      projectId,
      label: 'server-1',
      algorithm: 'RSA',
      publicKeyPem: signer.publicKey,
      active: true,
      createTime: expect.any(String),
      updateTime: expect.any(String),
    };
    const made = await api('POST', '/projects/default/jwt-keys', {
      body: { label: 'rotation', algorithm: 'RS256', publicKeyPem: stranger.publicKey },
    });
    expect(made.status).toBe(201);
    expect(Object.keys(made.body)).toEqual(['kid']);
    const second = made.body.kid;
    const listed = await api('GET', '/projects/default/jwt-keys');
    expect(listed.body).toEqual([
      shown,
      expect.objectContaining({ id: second, label: 'rotation', active: true }),
    ]);
    expect((await api('GET', `/projects/default/jwt-keys/${kid}`)).body).toEqual(shown);

    const relabelled = await api('PATCH', `/projects/default/jwt-keys/${second}`, {
      body: { updateMask: ['label'], jwtKey: { label: 'retired' } },
    });
    expect(relabelled.body).toMatchObject({ label: 'retired', active: true });
    const off = await api('PATCH', `/projects/default/jwt-keys/${second}`, {
      body: { updateMask: ['active'], jwtKey: { active: false } },
    });
    expect(off.body).toMatchObject({ label: 'retired', active: false });
    expect((await api('GET', '/projects/default/jwt-keys?active=true')).body).toEqual([shown]);
    expect((await api('GET', '/projects/default/jwt-keys?active=false')).body).toHaveLength(2);

    // A mask the document does not list, or one whose value is missing.
    expectProblem(
      await api('PATCH', `/projects/default/jwt-keys/${second}`, {
        body: { updateMask: ['publicKeyPem'], jwtKey: { publicKeyPem: signer.publicKey } },
      }),
      400,
    );
    const noValue = expectProblem(
      await api('PATCH', `/projects/default/jwt-keys/${second}`, {
        body: { updateMask: ['active'], jwtKey: { label: 'x' } },
      }),
      422,
    );
    expect(noValue.issues).toEqual([{ in: 'body', name: '/jwtKey/active', detail: expect.any(String) }]);

    expect((await api('DELETE', `/projects/default/jwt-keys/${second}`)).status).toBe(204);
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { updateMask: ['active'], jwtKey: { active: true } }],
      ['DELETE', undefined],
    ] as const) {
      expectProblem(await api(method, `/projects/default/jwt-keys/${second}`, body ? { body } : {}), 404);
      // Another project's key, by its id, is not found either.
      expectProblem(
        await api(method, `/projects/default/jwt-keys/${otherProject.kid}`, body ? { body } : {}),
        404,
      );
    }
    expect((await api('GET', '/projects/default/jwt-keys')).body).toEqual([shown]);
    expect(neverSucceeded(OPERATIONS)).toEqual([]);
  });

  it('registers RSA public keys of 2048 bits or more only, naming publicKeyPem in issues', async () => {
    const ec = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const short = rsaKeys(1024);
    for (const [publicKeyPem, says] of [
      [ec.publicKey, 'only RSA keys'],
      [short.publicKey, '2048'],
      [signer.privateKey, 'PRIVATE KEY'],
      ['-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n', 'not a valid RSA public key'],
      [`${signer.publicKey}${stranger.publicKey}`, 'one PEM block'],
    ] as const) {
      const res = await api('POST', '/projects/default/jwt-keys', {
        body: { label: 'bad', algorithm: 'RS256', publicKeyPem },
      });
      const problem = expectProblem(res, 400);
      expect(problem.issues).toEqual([
        { in: 'body', name: '/publicKeyPem', detail: expect.stringContaining(says) },
      ]);
    }
    // The document's algorithm is RS256; its examples' "RSA" is refused by its own schema.
    expectProblem(
      await api('POST', '/projects/default/jwt-keys', {
        body: { label: 'x', algorithm: 'RSA', publicKeyPem: signer.publicKey },
      }),
      400,
    );
    expect((await api('GET', '/projects/default/jwt-keys')).body).toHaveLength(1);
    // PKCS#1 ("RSA PUBLIC KEY") is an RSA public key too.
    const pkcs1 = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }).publicKey;
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    const made = await api('POST', '/projects/default/jwt-keys', {
      body: { label: 'pkcs1', algorithm: 'RS256', publicKeyPem: pkcs1 },
    });
    expect(made.status).toBe(201);
    expect((await api('DELETE', `/projects/default/jwt-keys/${made.body.kid}`)).status).toBe(204);
  });

  it("a token works for its own group: the project, its group's connections and installations, the UI's flows", async () => {
    const token = tokenFor('acme');
    expect((await api('GET', '/projects/default', { token })).body.id).toBe(projectId);
    expect((await api('GET', '/projects/default/integrations', { token })).status).toBe(200);
    // The list is its group's, asked for or not.
    for (const query of ['', '?groupRef=acme', '?provider=hubspot&groupRef=acme']) {
      const listed = await api('GET', `/projects/default/connections${query}`, { token });
      expect(listed.body.map((c: { id: string }) => c.id)).toEqual([connections.acme]);
    }
    expect((await api('GET', `/projects/default/connections/${connections.acme}`, { token })).status).toBe(
      200,
    );
    const revision = (await api('GET', '/projects/default/integrations', { token })).body[0].latestRevision
      .id;
    const hydrate = `/projects/default/integrations/${integrationId}/revisions/${revision}:hydrate`;
    expect((await api('GET', `${hydrate}?connectionId=${connections.acme}`, { token })).status).toBe(200);

    const installations = `/projects/default/integrations/${integrationId}/installations`;
    expect((await api('GET', installations, { token })).body).toEqual([]);
    const created = await api('POST', installations, {
      token,
      body: { groupRef: 'acme', config: { content: { provider: 'hubspot' } } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await api('GET', `${installations}?groupRef=acme`, { token })).body).toEqual([created.body]);
    expect((await api('GET', `${installations}/${created.body.id}`, { token })).status).toBe(200);
    const patched = await api('PATCH', `${installations}/${created.body.id}`, {
      token,
      body: {
        updateMask: ['config.content.read.objects.contacts'],
        installation: {
          config: {
            content: {
              read: {
                objects: {
                  contacts: {
                    objectName: 'contacts',
                    selectedFields: { email: true },
                    selectedFieldMappings: {},
                  },
                },
              },
            },
          },
        },
      },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect((await api('DELETE', `${installations}/${created.body.id}`, { token })).status).toBe(204);

    // The popup flows, from a page of an allowed origin; the body names the token's own group.
    const connect = await api('POST', '/oauth-connect', {
      token,
      headers: { origin: PAGE },
      body: { projectIdOrName: 'default', provider: 'hubspot', groupRef: 'acme', consumerRef: 'user-1' },
    });
    expect(connect.status, JSON.stringify(connect.body)).toBe(200);
    expect(connect.body).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/start\?state=/);
    const renew = await api('PATCH', `/projects/default/connections/${connections.acme}:oauth-update`, {
      token,
      headers: { origin: PAGE },
    });
    expect(renew.status, JSON.stringify(renew.body)).toBe(200);
  });

  it("a token cannot see or act on another group's connections and installations", async () => {
    const token = tokenFor('acme');
    const nowhere = randomUUID();
    // Another group's connection is as not found as one that does not exist.
    for (const id of [connections.globex, nowhere]) {
      const read = expectProblem(await api('GET', `/projects/default/connections/${id}`, { token }), 404);
      expect(read.detail).toBe(`connection "${id}" not found`);
      expectProblem(await api('DELETE', `/projects/default/connections/${id}`, { token }), 404);
      expectProblem(
        await api('PATCH', `/projects/default/connections/${id}`, {
          token,
          body: { updateMask: ['providerMetadata'], connection: { providerMetadata: {} } },
        }),
        404,
      );
      expectProblem(
        await api('PATCH', `/projects/default/connections/${id}:oauth-update`, {
          token,
          headers: { origin: PAGE },
        }),
        404,
      );
    }
    const revision = (await api('GET', '/projects/default/integrations', { token })).body[0].latestRevision
      .id;
    expectProblem(
      await api(
        'GET',
        `/projects/default/integrations/${integrationId}/revisions/${revision}:hydrate?connectionId=${connections.globex}`,
        { token },
      ),
      404,
    );
    const installations = `/projects/default/integrations/${integrationId}/installations`;
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { updateMask: ['config.createdBy'], installation: { config: { createdBy: 'user:x' } } }],
      ['DELETE', undefined],
    ] as const) {
      const res = await api(
        method,
        `${installations}/${globexInstallation}`,
        body ? { token, body } : { token },
      );
      expect(expectProblem(res, 404).detail).toBe('installation not found');
    }
    expectProblem(
      await api('POST', installations, {
        token,
        body: {
          groupRef: 'acme',
          connectionId: connections.globex,
          config: { content: { provider: 'hubspot' } },
        },
      }),
      404,
    );

    // Naming another group (or consumer) is forbidden outright.
    expectProblem(await api('GET', '/projects/default/connections?groupRef=globex', { token }), 403);
    expectProblem(await api('GET', `${installations}?groupRef=globex`, { token }), 403);
    expectProblem(
      await api('POST', installations, {
        token,
        body: { groupRef: 'globex', config: { content: { provider: 'hubspot' } } },
      }),
      403,
    );
    for (const body of [
      { groupRef: 'globex', consumerRef: 'user-1' },
      { groupRef: 'acme', consumerRef: 'someone-else' },
    ]) {
      expectProblem(
        await api('POST', '/oauth-connect', {
          token,
          headers: { origin: PAGE },
          body: { projectIdOrName: 'default', provider: 'hubspot', ...body },
        }),
        403,
      );
      expectProblem(
        await api('POST', '/projects/default/connections:generate', {
          token,
          body: { provider: 'apollo', apiKey: 'k', ...body },
        }),
        403,
      );
    }
    // Globex's connection and installation are untouched.
    const all = await api('GET', '/projects/default/connections');
    expect(all.body.map((c: { id: string }) => c.id).sort()).toEqual(Object.values(connections).sort());
    expect((await api('GET', `${installations}/${globexInstallation}`)).status).toBe(200);
  });

  it("a token of another project acts on nothing of this one, and this project's token nothing of that one", async () => {
    const theirs = rs256Token(otherProjectSigner.privateKey, { kid: otherProject.kid }, claimsFor('acme'));
    for (const path of [
      '/projects/default',
      '/projects/default/connections',
      `/projects/${projectId}/connections`,
    ])
      expectProblem(await api('GET', path, { token: theirs }), 404);
    expectProblem(
      await api('POST', '/oauth-connect', {
        token: theirs,
        headers: { origin: PAGE },
        body: { projectIdOrName: 'default', provider: 'hubspot', groupRef: 'acme', consumerRef: 'user-1' },
      }),
      404,
    );
    // Its own project it reaches; ours, with our token, it does not.
    expect((await api('GET', `/projects/${otherProject.name}`, { token: theirs })).status).toBe(200);
    expectProblem(await api('GET', `/projects/${otherProject.name}`, { token: tokenFor('acme') }), 404);
    // Our key's id on a token the other project signed: the signature decides.
    const forged = rs256Token(otherProjectSigner.privateKey, { kid }, claimsFor('acme'));
    expect(expectProblem(await api('GET', '/projects/default', { token: forged }), 401).detail).toContain(
      'signature',
    );
  });

  it('a token may not call the operations of the project itself: provider apps, destinations, deployments, keys', async () => {
    const token = tokenFor('acme');
    const forbidden: [string, string, unknown?][] = [
      ['GET', '/projects/default/provider-apps'],
      ['POST', '/projects/default/provider-apps', { provider: 'hubspot', clientId: 'a', clientSecret: 'b' }],
      ['GET', '/projects/default/destinations'],
      ['PUT', '/projects/default/integrations:batch', { sourceYaml: MANIFEST }],
      ['GET', `/projects/default/integrations/${integrationId}`],
      ['DELETE', `/projects/default/integrations/${integrationId}`],
      ['GET', '/projects/default/installations'],
      ['GET', '/projects/default/jwt-keys'],
      [
        'POST',
        '/projects/default/jwt-keys',
        { label: 'x', algorithm: 'RS256', publicKeyPem: stranger.publicKey },
      ],
      ['DELETE', `/projects/default/jwt-keys/${kid}`],
      [
        'GET',
        `/projects/default/integrations/${integrationId}/installations/${globexInstallation}/operations`,
      ],
      // Not served at all: still forbidden to a token first.
      ['GET', '/projects/default/topics'],
    ];
    for (const [method, path, body] of forbidden) {
      const res = await api(method, path, body === undefined ? { token } : { token, body });
      expect(expectProblem(res, 403).detail, `${method} ${path}`).toContain('not open to browser tokens');
    }
    // The key and the integration are still there.
    expect((await api('GET', `/projects/default/jwt-keys/${kid}`)).status).toBe(200);
    expect((await api('GET', `/projects/default/integrations/${integrationId}`)).status).toBe(200);
    // The APIs servers call take no browser token at all.
    for (const path of [
      `/read/v1/projects/default/integrations/${integrationId}/objects/contacts`,
      `/write/v1/projects/default/integrations/${integrationId}/objects/contacts`,
    ]) {
      const res = await fetch(`${t.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ groupRef: 'acme' }),
      });
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { detail: string }).detail).toContain('X-Api-Key');
    }
    const proxied = await fetch(`${t.baseUrl}/proxy/crm/v3/objects/contacts`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-amp-proxy-version': '1',
        'x-amp-project-id': projectId,
      },
    });
    expect(proxied.status).toBe(401);
  });

  it('refuses with 401 every token that is not a valid, current RS256 token of an active key, without echoing it', async () => {
    const now = nowSeconds();
    const { privateKey } = signer;
    const header = (alg: string) => base64url({ alg, typ: 'JWT', kid });
    const payload = base64url(claimsFor('acme'));
    const hs256 = `${header('HS256')}.${payload}`;
    const cases: [string, string, string][] = [
      ['expired', tokenFor('acme', { iat: now - 400, exp: now - 120 }), 'expired'],
      ['without exp', rs256Token(privateKey, { kid }, { ...claimsFor('acme'), exp: undefined }), 'exp'],
      ['without iat', rs256Token(privateKey, { kid }, { ...claimsFor('acme'), iat: undefined }), 'iat'],
      ['valid for more than ten minutes', tokenFor('acme', { exp: now + 3600 }), '600'],
      ['issued in the future', tokenFor('acme', { iat: now + 600, exp: now + 900 }), 'future'],
      ['not valid yet', tokenFor('acme', { nbf: now + 300 }), 'nbf'],
      ['signed by another key', rs256Token(stranger.privateKey, { kid }, claimsFor('acme')), 'signature'],
      [
        'tampered with',
        `${header('RS256')}.${base64url(claimsFor('globex'))}.${tokenFor('acme').split('.')[2]}`,
        'signature',
      ],
      ['alg none', `${header('none')}.${payload}.`, 'alg "none"'],
      [
        'HS256 keyed with the public key',
        `${hs256}.${createHmac('sha256', signer.publicKey).update(hs256).digest('base64url')}`,
        'alg "HS256"',
      ],
      ['without kid', rs256Token(privateKey, {}, claimsFor('acme')), 'kid'],
      [
        'of an unknown kid',
        rs256Token(privateKey, { kid: randomUUID() }, claimsFor('acme')),
        'no active JWT key',
      ],
      [
        'of a kid that is no id',
        rs256Token(privateKey, { kid: 'server-1' }, claimsFor('acme')),
        'no active JWT key',
      ],
      [
        'without groupRef',
        rs256Token(privateKey, { kid }, { ...claimsFor('acme'), groupRef: undefined }),
        'groupRef',
      ],
      [
        'without consumerRef',
        rs256Token(privateKey, { kid }, { ...claimsFor('acme'), consumerRef: '' }),
        'consumerRef',
      ],
      [
        'with a groupRef longer than a request may name',
        rs256Token(privateKey, { kid }, claimsFor('g'.repeat(513))),
        'groupRef',
      ],
      ['with critical headers', rs256Token(privateKey, { kid, crit: ['exp'] }, claimsFor('acme')), 'crit'],
      ['not a JWT', 'not-a-token', 'not a JWT'],
    ];
    for (const [name, token, says] of cases) {
      const res = await api('GET', '/projects/default/connections', { token });
      const problem = expectProblem(res, 401);
      expect(problem.detail, name).toContain(says);
      expect(problem.remedy, name).toContain('JWT keys');
      expect(JSON.stringify(problem), name).not.toContain(token.split('.')[1] || token);
    }
    // Within the clock skew an expired token still works; both credentials at once do not.
    expect(
      (await api('GET', '/projects/default', { token: tokenFor('acme', { iat: now - 330, exp: now - 30 }) }))
        .status,
    ).toBe(200);
    expectProblem(await api('GET', '/projects/default', { token: tokenFor('acme'), key: t.apiKey }), 401);
  });

  it('a key turned off refuses its tokens until it is on again; a deleted key refuses them for good', async () => {
    const token = tokenFor('acme');
    expect((await api('GET', '/projects/default', { token })).status).toBe(200);
    const turn = (active: boolean) =>
      api('PATCH', `/projects/default/jwt-keys/${kid}`, {
        body: { updateMask: ['active'], jwtKey: { active } },
      });
    await turn(false);
    expect(expectProblem(await api('GET', '/projects/default', { token }), 401).detail).toContain(
      'no active JWT key',
    );
    await turn(true);
    expect((await api('GET', '/projects/default', { token })).status).toBe(200);

    const made = await api('POST', '/projects/default/jwt-keys', {
      body: { label: 'short-lived', algorithm: 'RS256', publicKeyPem: stranger.publicKey },
    });
    const itsToken = rs256Token(stranger.privateKey, { kid: made.body.kid }, claimsFor('acme'));
    expect((await api('GET', '/projects/default', { token: itsToken })).status).toBe(200);
    expect((await api('DELETE', `/projects/default/jwt-keys/${made.body.kid}`)).status).toBe(204);
    expectProblem(await api('GET', '/projects/default', { token: itsToken }), 401);
  });

  it('a page of an allowed origin may send the token: the preflight allows authorization, the answer is readable', async () => {
    const preflight = await fetch(`${t.baseUrl}/v1/projects/default/connections`, {
      method: 'OPTIONS',
      headers: {
        origin: PAGE,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization,x-amp-client,x-amp-client-version',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')?.split(', ')).toContain('authorization');
    const res = await api('GET', '/projects/default/connections', {
      token: tokenFor('acme'),
      headers: { origin: PAGE, 'x-amp-client': 'react', 'x-amp-client-version': '2.16.1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PAGE);
  });
});
