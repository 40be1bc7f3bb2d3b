import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { signFileUrl } from '../../src/auth/file-url-signature.ts';
import { createProject } from '../../src/core/projects.ts';
import { redactUrl } from '../../src/logger.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type ApiResponse, client, startTrellis, type TestTrellis } from '../helpers/trellis.ts';
import { contractClient } from './contract-check.ts';

/**
 * `amp deploy` against Trellis, as the CLI does it: `GET /v1/generate-upload-url?md5=<base64 MD5
 * of the zip>`, a PUT of the zip (amp.yaml at its root) to the answered URL with `Content-MD5` and
 * no content type or API key, then `PUT integrations:batch {sourceZipUrl: "gs://<bucket>/<path>"}`.
 * Trellis keeps the upload itself and takes no other URL. Every /v1 answer is validated against
 * the document; the upload URL's answers are problems in the same shape.
 */

const MANIFEST = `specVersion: 1.0.0
integrations:
  - name: hubspot-contacts
    provider: hubspot
    read:
      objects:
        - objectName: contacts
          destination: contactsWebhook
          schedule: "*/10 * * * *"
          requiredFields: [{fieldName: email}]
          optionalFieldsAuto: all
    write: {objects: [{objectName: contacts}]}
    proxy: {enabled: true}
`;
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** A zip made as `amp deploy` makes it (deflated entries), of the given entries. */
async function zipOf(entries: Record<string, string | Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) zip.addBuffer(Buffer.from(content), name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const md5Base64 = (bytes: Buffer) => createHash('md5').update(bytes).digest('base64');

/** A PUT to an upload URL as the CLI sends it: the bytes, no content type, no API key. */
async function putUpload(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const res = await fetch(url, { method: 'PUT', headers, body });
  const text = await res.text();
  return {
    status: res.status,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    headers: res.headers,
  };
}

/**
 * A chunked PUT (no length) that sends up to `limit` bytes, 1 MB at a time, for as long as the
 * server takes them: its answer, or the error the connection ended with, and how much was sent.
 */
function putEndlessly(
  url: string,
  limit: number,
): Promise<{ status?: number; error?: string; sent: number }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'PUT' });
    const chunk = Buffer.alloc(1024 * 1024);
    let sent = 0;
    let ended = false;
    const end = (outcome: { status?: number; error?: string }) => {
      if (ended) return;
      ended = true;
      req.destroy();
      resolve({ ...outcome, sent });
    };
    req.on('response', (res) => {
      res.resume();
      end({ status: res.statusCode });
    });
    req.on('error', (err: NodeJS.ErrnoException) => end({ error: err.code ?? err.message }));
    const pump = () => {
      while (!ended && sent < limit) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!ended) req.end();
    };
    pump();
  });
}

describe('amp deploy: a zip uploaded to Trellis, then deployed by its gs:// name', () => {
  let t: TestTrellis;
  let projectId: string;
  const { api, neverSucceeded } = contractClient(
    () => t.baseUrl,
    () => t.apiKey,
    [],
  );

  /** Asks for an upload URL (with the zip's MD5, as the CLI does) and PUTs the zip to it. */
  async function upload(zip: Buffer, asker = api): Promise<{ url: string; storageName: string }> {
    const md5 = md5Base64(zip);
    const signed = await asker('GET', `/generate-upload-url?md5=${encodeURIComponent(md5)}`);
    expect(signed.status).toBe(200);
    const put = await putUpload(signed.body.url, zip, { 'Content-MD5': md5 });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    return { url: signed.body.url, storageName: `gs://${signed.body.bucket}/${signed.body.path}` };
  }

  const deploy = (body: Record<string, string>) => api('PUT', '/projects/default/integrations:batch', body);

  /** The one issue of a 422 deploy answer. */
  async function refusedDeploy(body: Record<string, string>): Promise<{ name: string; detail: string }> {
    const problem = expectProblem(await deploy(body), 422);
    const issues = problem.issues as { name: string; detail: string }[];
    expect(issues.length, JSON.stringify(problem)).toBeGreaterThan(0);
    return issues[0]!;
  }

  beforeAll(async () => {
    t = await startTrellis({ roles: { api: true, worker: false } });
    const hooks = await api('POST', '/projects/default/destinations', {
      name: 'contactsWebhook',
      type: 'webhook',
      metadata: { url: 'http://127.0.0.1:9/hooks/contacts' },
    });
    expect(hooks.status).toBe(201);
    const app = await client(t.baseUrl, t.apiKey, '/v1')('POST', '/projects/default/provider-apps', {
      body: { provider: 'hubspot', clientId: 'hs-client', clientSecret: 'hs-secret' },
    });
    expect(app.status).toBe(200);
  });
  afterAll(() => t?.stop());

  it('the whole flow: upload URL with the MD5, the PUT, the deploy by gs:// name, the integration listed', async () => {
    const zip = await zipOf({ 'amp.yaml': MANIFEST });
    const md5 = md5Base64(zip);
    const signed = await api('GET', `/generate-upload-url?md5=${encodeURIComponent(md5)}`);
    expect(signed.status).toBe(200);
    expect(Object.keys(signed.body).sort()).toEqual(['bucket', 'path', 'url']);
    const url = new URL(signed.body.url);
    // A path-style URL on Trellis itself: <public URL>/<bucket>/<path>, signed, bound to the MD5.
    expect(url.origin).toBe(new URL(t.config.publicUrl).origin);
    expect(url.pathname).toBe(`/${signed.body.bucket}/${signed.body.path}`);
    expect(url.searchParams.get('md5')).toBe(md5);
    expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const expires = Number(url.searchParams.get('expires')) * 1000;
    expect(expires).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    projectId = signed.body.path.split('/')[0];

    const put = await putUpload(signed.body.url, zip, { 'Content-MD5': md5 });
    expect(put.status).toBe(200);
    const { rows } = await t.runtime.deps.db.query(
      'select project_id, bytes, md5 from uploads where path = $1',
      [signed.body.path],
    );
    expect(rows).toEqual([{ project_id: projectId, bytes: zip, md5: Buffer.from(md5, 'base64') }]);

    const deployed = await deploy({ sourceZipUrl: `gs://${signed.body.bucket}/${signed.body.path}` });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    expect(deployed.body.map((i: { name: string }) => i.name)).toEqual(['hubspot-contacts']);
    const listed = (await api('GET', '/projects/default/integrations')).body;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'hubspot-contacts', provider: 'hubspot' });
    expect(listed[0].latestRevision.content).toMatchObject({
      name: 'hubspot-contacts',
      provider: 'hubspot',
      read: {
        objects: [{ objectName: 'contacts', destination: 'contactsWebhook', schedule: '*/10 * * * *' }],
      },
      write: { objects: [{ objectName: 'contacts' }] },
      proxy: { enabled: true },
    });
  });

  it('a deploy may name the upload by its URL too; a second PUT to a URL replaces the first', async () => {
    const signed = await api('GET', '/generate-upload-url');
    expect(signed.status).toBe(200);
    expect(new URL(signed.body.url).searchParams.has('md5')).toBe(false);
    const renamed = MANIFEST.replace('hubspot-contacts', 'hubspot-contacts-2');
    expect((await putUpload(signed.body.url, await zipOf({ 'amp.yaml': MANIFEST }))).status).toBe(200);
    expect((await putUpload(signed.body.url, await zipOf({ 'amp.yaml': renamed }))).status).toBe(200);
    for (const named of [signed.body.url, signed.body.url.split('?')[0]]) {
      const deployed = await deploy({ sourceZipUrl: named });
      expect(deployed.status).toBe(200);
      expect(deployed.body.map((i: { name: string }) => i.name)).toEqual(['hubspot-contacts-2']);
    }
    const { rows } = await t.runtime.deps.db.query('select count(*)::int as n from uploads where path = $1', [
      signed.body.path,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it('refuses an upload URL changed in any part, or past its time (403), before reading the body', async () => {
    const zip = await zipOf({ 'amp.yaml': MANIFEST });
    const signed = await api('GET', `/generate-upload-url?md5=${encodeURIComponent(md5Base64(zip))}`);
    const url = new URL(signed.body.url);
    const changed = (change: (u: URL) => void) => {
      const copy = new URL(url);
      change(copy);
      return copy.toString();
    };
    const signature = url.searchParams.get('signature')!;
    const tampered = [
      changed((u) =>
        u.searchParams.set('signature', (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1)),
      ),
      changed((u) => u.searchParams.delete('signature')),
      changed((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))),
      changed((u) => u.searchParams.delete('md5')),
      changed((u) => {
        u.pathname = `/uploads/${projectId}/${randomUUID()}.zip`;
      }),
      changed((u) => {
        u.pathname = `/uploads/${randomUUID()}/${u.pathname.split('/').pop()}`;
      }),
    ];
    for (const bad of tampered) {
      const res = await putUpload(bad, zip);
      expect(expectProblem(res, 403).detail, bad).toMatch(
        /not an upload URL that Trellis signed|does not match its signature/,
      );
    }
    // Signed by Trellis, with its key, but expired a minute ago.
    const path = `${projectId}/${randomUUID()}.zip`;
    const expires = Math.floor(Date.now() / 1000) - 60;
    const expired = `${t.config.publicUrl}/uploads/${path}?expires=${expires}&signature=${signFileUrl(t.runtime.deps.vault, 'upload', { path, expires })}`;
    expect(expectProblem(await putUpload(expired, zip), 403).detail).toContain('expired');
    // Refused before the body is read: a body far over the limit gets the same 403, not a 413.
    expect((await putUpload(tampered[0]!, Buffer.alloc(MAX_UPLOAD_BYTES + 1))).status).toBe(403);
    const { rows } = await t.runtime.deps.db.query('select count(*)::int as n from uploads where path = $1', [
      path,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('refuses bytes whose MD5 is not the signed one or the Content-MD5 header (400), and an empty body', async () => {
    const zip = await zipOf({ 'amp.yaml': MANIFEST });
    const other = await zipOf({ 'amp.yaml': MANIFEST.replace('contacts', 'companies') });
    const signed = await api('GET', `/generate-upload-url?md5=${encodeURIComponent(md5Base64(zip))}`);
    const wrongBody = expectProblem(await putUpload(signed.body.url, other), 400);
    expect(wrongBody.detail).toContain('MD5');
    expect(wrongBody.issues).toEqual([
      { in: 'body', name: '', detail: 'does not have the MD5 digest the upload URL was made for' },
    ]);
    const unsigned = await api('GET', '/generate-upload-url');
    for (const header of [md5Base64(zip), 'not-a-digest']) {
      const res = expectProblem(await putUpload(unsigned.body.url, other, { 'Content-MD5': header }), 400);
      expect(res.issues).toEqual([
        { in: 'header', name: 'content-md5', detail: 'is not the base64 MD5 digest of the body' },
      ]);
    }
    expectProblem(await putUpload(unsigned.body.url, Buffer.alloc(0)), 400);
    const { rows } = await t.runtime.deps.db.query(
      'select count(*)::int as n from uploads where path in ($1, $2)',
      [signed.body.path, unsigned.body.path],
    );
    expect(rows[0].n).toBe(0);
    // The MD5 asked for must be one.
    for (const md5 of ['abc', md5Base64(zip).slice(0, -2), `${md5Base64(zip)}x`]) {
      const res = expectProblem(await api('GET', `/generate-upload-url?md5=${encodeURIComponent(md5)}`), 400);
      expect(res.issues).toEqual([
        { in: 'query', name: 'md5', detail: 'must be the base64 MD5 digest of the zip, given once' },
      ]);
    }
  });

  it('refuses an upload over 10 MB (413), by its length or as it streams in', async () => {
    const signed = await api('GET', '/generate-upload-url');
    const tooLarge = expectProblem(await putUpload(signed.body.url, Buffer.alloc(MAX_UPLOAD_BYTES + 1)), 413);
    expect(tooLarge.detail).toBe(`an upload is at most ${MAX_UPLOAD_BYTES} bytes`);
    // Without a length (chunked): read up to the limit and no further. The server answers 413 and
    // closes the connection while the client still sends, so the client may see the close first.
    const streamed = await putEndlessly(signed.body.url, 3 * MAX_UPLOAD_BYTES);
    if (streamed.status !== undefined) expect(streamed.status).toBe(413);
    else expect(streamed.error).toMatch(/EPIPE|ECONNRESET/);
    expect(streamed.sent).toBeLessThan(3 * MAX_UPLOAD_BYTES);
    const { rows } = await t.runtime.deps.db.query('select count(*)::int as n from uploads where path = $1', [
      signed.body.path,
    ]);
    expect(rows[0].n).toBe(0);
    // Exactly at the limit is taken.
    expect((await putUpload(signed.body.url, Buffer.alloc(MAX_UPLOAD_BYTES))).status).toBe(200);
  });

  it('the upload URLs take PUT only, and their query (the signature) is never logged', async () => {
    const signed = await api('GET', '/generate-upload-url');
    const res = await fetch(signed.body.url);
    const problem = expectProblem({ status: res.status, body: await res.json(), headers: res.headers }, 405);
    expect(res.headers.get('allow')).toBe('PUT');
    expect(problem.detail).toContain('generate-upload-url');
    const url = new URL(signed.body.url);
    expect(redactUrl(`${url.pathname}${url.search}`)).toBe(`${url.pathname}?[redacted]`);
  });

  it("takes only this project's own uploads: another project's, or one older than a day, is as absent (422)", async () => {
    const other = await createProject(t.runtime.deps.db, 'other');
    const theirs = await upload(await zipOf({ 'amp.yaml': MANIFEST }), (method, path) =>
      client(t.baseUrl, other.apiKey, '/v1')(method, path.split('?')[0]!, {
        query: Object.fromEntries(new URLSearchParams(path.split('?')[1] ?? '')),
      }),
    );
    expect(theirs.storageName).toContain(`/${other.project.id}/`);
    const missing = `gs://uploads/${projectId}/${randomUUID()}.zip`;
    for (const named of [theirs.storageName, theirs.url, missing, 'gs://uploads/nothing']) {
      const issue = await refusedDeploy({ sourceZipUrl: named });
      expect(issue).toEqual({
        in: 'body',
        name: '/sourceZipUrl',
        detail: expect.stringContaining('names no upload of this project'),
      });
    }
    const ours = await upload(await zipOf({ 'amp.yaml': MANIFEST }));
    await t.runtime.deps.db.query(
      `update uploads set created_at = now() - interval '25 hours' where path = $1`,
      [ours.storageName.replace('gs://uploads/', '')],
    );
    expect((await refusedDeploy({ sourceZipUrl: ours.storageName })).detail).toContain('names no upload');
    // The next upload deletes it.
    await upload(await zipOf({ 'amp.yaml': MANIFEST }));
    const { rows } = await t.runtime.deps.db.query(
      `select count(*)::int as n from uploads where created_at < now() - interval '1 day'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('fetches no URL that is not an upload to this Trellis', async () => {
    for (const foreign of [
      'https://storage.googleapis.com/my-bucket/source-files/integration-v1.2.3.zip',
      'gs://my-bucket/amp.zip',
      `http://127.0.0.1:9/uploads/${projectId}/${randomUUID()}.zip`,
      'file:///etc/passwd',
      'not a url',
    ]) {
      const issue = await refusedDeploy({ sourceZipUrl: foreign });
      expect(issue.name).toBe('/sourceZipUrl');
      expect(issue.detail).toContain('Trellis does not fetch remote URLs');
    }
    const both = expectProblem(await deploy({ sourceYaml: MANIFEST, sourceZipUrl: 'gs://uploads/x' }), 422);
    expect((both.issues as { name: string }[]).map((i) => i.name)).toEqual(['/sourceYaml', '/sourceZipUrl']);
    const neither = expectProblem(await api('PUT', '/projects/default/integrations:batch', {}), 422);
    expect(neither.detail).toContain('sourceZipUrl');
  });

  it('refuses zips that hold no manifest, are not zips, or try tricks, each with a 422 naming /sourceZipUrl', async () => {
    const manifestZip = await zipOf({ 'amp.yaml': MANIFEST });
    // The central directory's declared size of amp.yaml, made smaller than what it inflates to.
    const understated = Buffer.from(manifestZip);
    const central = understated.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    understated.writeUInt32LE(10, central + 24);
    const cases: [string, Buffer, RegExp][] = [
      ['no amp.yaml', await zipOf({ 'manifest.yaml': MANIFEST }), /no amp\.yaml at its root/],
      ['amp.yaml in a folder', await zipOf({ 'project/amp.yaml': MANIFEST }), /no amp\.yaml at its root/],
      ['not a zip', Buffer.from('this is not a zip file'), /not a readable zip/],
      ['a zip cut short', manifestZip.subarray(0, manifestZip.length - 30), /not a readable zip/],
      [
        'an entry that leaves the folder',
        Buffer.from(
          (await zipOf({ 'xx/amp.yaml': MANIFEST, 'amp.yaml': MANIFEST }))
            .toString('latin1')
            .replaceAll('xx/amp.yaml', '../amp.yaml'),
          'latin1',
        ),
        /not a readable zip: invalid relative path/,
      ],
      ['amp.yaml inflating past its declared size', understated, /not a readable zip: too many bytes/],
      [
        'amp.yaml over the manifest limit',
        await zipOf({ 'amp.yaml': `${MANIFEST}#${' '.repeat(1024 * 1024)}\n` }),
        /amp\.yaml is over 1048576 bytes/,
      ],
      [
        'too many entries',
        await zipOf(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}.txt`, '']))),
        /1001 entries/,
      ],
      ['amp.yaml not UTF-8', await zipOf({ 'amp.yaml': Buffer.from([0xff, 0xfe, 0x00]) }), /is not UTF-8/],
    ];
    for (const [label, zip, detail] of cases) {
      const { storageName } = await upload(zip);
      const issue = await refusedDeploy({ sourceZipUrl: storageName });
      expect(issue.name, label).toMatch(/^\/sourceZipUrl/);
      expect(issue.detail, label).toMatch(detail);
    }
  });

  it("names the manifest's own mistakes under /sourceZipUrl/amp.yaml", async () => {
    const cases: [string, string, string][] = [
      ['not YAML', 'specVersion: [1.0.0', '/sourceZipUrl/amp.yaml'],
      ['no integrations', 'specVersion: 1.0.0\n', '/sourceZipUrl/amp.yaml'],
      [
        'an unknown provider',
        MANIFEST.replace('provider: hubspot', 'provider: nowhere'),
        '/sourceZipUrl/amp.yaml/integrations/0/provider',
      ],
      [
        'an unknown destination',
        MANIFEST.replace('destination: contactsWebhook', 'destination: elsewhere'),
        '/sourceZipUrl/amp.yaml/integrations/0/read/objects/0/destination',
      ],
    ];
    for (const [label, manifest, name] of cases) {
      const { storageName } = await upload(await zipOf({ 'amp.yaml': manifest }));
      const issue = await refusedDeploy({ sourceZipUrl: storageName });
      expect(issue.name, label).toBe(name);
    }
    // The same mistakes in sourceYaml are named under /sourceYaml.
    const issue = await refusedDeploy({
      sourceYaml: MANIFEST.replace('provider: hubspot', 'provider: nowhere'),
    });
    expect(issue.name).toBe('/sourceYaml/integrations/0/provider');
    // Nothing was deployed by any of them.
    const names = (await api('GET', '/projects/default/integrations')).body.map(
      (i: { name: string }) => i.name,
    );
    expect(names.sort()).toEqual(['hubspot-contacts', 'hubspot-contacts-2']);
  });

  it('logged no error and no upload signature', () => {
    expect(t.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(JSON.stringify(t.logs)).not.toMatch(/signature=/);
  });

  it('exercised each operation with a success', () => {
    expect(neverSucceeded(['generateUploadUrl', 'batchUpsertIntegrations', 'listIntegrations'])).toEqual([]);
  });
});
