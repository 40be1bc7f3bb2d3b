import yauzl from 'yauzl';
import type { CoreDeps } from '../../core/deps.ts';
import { readUpload, UPLOAD_BUCKET, uploadPathAt } from '../../core/uploads.ts';
import { RequestRefused } from '../surface/errors.ts';

/**
 * Where a deploy's manifest comes from: the request's `sourceYaml`, or the zip `sourceZipUrl`
 * names, which must be one the project uploaded to Trellis (`GET /generate-upload-url`, then a PUT
 * to its URL; `amp deploy` does both). Trellis fetches nothing from elsewhere.
 */
export interface ManifestSource {
  /** The manifest's text. */
  yaml: string;
  /** The body pointer that issues found in the manifest are named under. */
  at: string;
}

/** What `amp deploy` zips: the manifest alone, as amp.yaml at the zip's root. */
const MANIFEST_ENTRY = 'amp.yaml';
/** A manifest far larger than any real one; its bytes are counted as they are inflated. */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Entries are only listed, never inflated, except the manifest; a zip of more is not a manifest's. */
const MAX_ZIP_ENTRIES = 1000;

const refused = (name: string, detail: string) =>
  new RequestRefused('invalid_input', `${name.slice(1)} ${detail}`, {
    status: 422,
    issues: [{ in: 'body', name, detail }],
  });

/** The manifest of a deploy request: its sourceYaml, or the amp.yaml of its sourceZipUrl's upload. */
export async function manifestSource(
  deps: CoreDeps,
  projectId: string,
  body: { sourceYaml?: string; sourceZipUrl?: string },
): Promise<ManifestSource> {
  if (body.sourceYaml !== undefined && body.sourceZipUrl !== undefined)
    throw new RequestRefused(
      'invalid_input',
      'give the manifest as sourceYaml or as sourceZipUrl, not both',
      {
        status: 422,
        issues: [
          { in: 'body', name: '/sourceYaml', detail: 'cannot be given with sourceZipUrl' },
          { in: 'body', name: '/sourceZipUrl', detail: 'cannot be given with sourceYaml' },
        ],
      },
    );
  if (body.sourceYaml !== undefined) return { yaml: body.sourceYaml, at: '/sourceYaml' };
  if (body.sourceZipUrl === undefined)
    throw new RequestRefused(
      'invalid_input',
      'give the manifest as sourceYaml, or the zip of it as sourceZipUrl',
      {
        status: 422,
        issues: [{ in: 'body', name: '/sourceYaml', detail: 'is required (or sourceZipUrl)' }],
      },
    );
  const path = uploadPathNamed(deps, body.sourceZipUrl);
  if (path === undefined)
    throw refused(
      '/sourceZipUrl',
      `must name an upload to this Trellis (gs://${UPLOAD_BUCKET}/<path>, as GET /v1/generate-upload-url answers): Trellis does not fetch remote URLs`,
    );
  const zip = await readUpload(deps, projectId, path);
  if (!zip)
    throw refused(
      '/sourceZipUrl',
      'names no upload of this project: upload the zip to the URL GET /v1/generate-upload-url answers (uploads are kept for a day)',
    );
  return { yaml: await manifestInZip(zip), at: `/sourceZipUrl/${MANIFEST_ENTRY}` };
}

/**
 * The upload path a `sourceZipUrl` names: the storage name `gs://<bucket>/<path>` that
 * `amp deploy` builds from the upload URL's answer, or the upload URL itself.
 */
function uploadPathNamed(deps: CoreDeps, url: string): string | undefined {
  const storageName = `gs://${UPLOAD_BUCKET}/`;
  return url.startsWith(storageName) ? url.slice(storageName.length) : uploadPathAt(deps, url);
}

/**
 * The text of amp.yaml at the zip's root. Only that entry is inflated, and no further than its
 * declared size, which must be within the manifest limit (the reader stops at the declared size);
 * entries whose names leave the zip's folder (`..`, absolute paths) make the zip unreadable.
 */
async function manifestInZip(zip: Buffer): Promise<string> {
  const notReadable = (why: string) =>
    refused('/sourceZipUrl', `names an upload that is not a readable zip: ${why}`);
  let manifest: Buffer | undefined;
  try {
    const archive = await yauzl.fromBufferPromise(zip, { strictFileNames: true });
    if (archive.entryCount > MAX_ZIP_ENTRIES) {
      archive.close();
      throw refused(
        '/sourceZipUrl',
        `names a zip of ${archive.entryCount} entries; a manifest's zip holds amp.yaml alone`,
      );
    }
    for await (const entry of archive.eachEntry()) {
      if (entry.fileName !== MANIFEST_ENTRY) continue;
      if (manifest) throw refused('/sourceZipUrl', `names a zip that holds ${MANIFEST_ENTRY} twice`);
      if (entry.isEncrypted())
        throw refused('/sourceZipUrl', `names a zip whose ${MANIFEST_ENTRY} is encrypted`);
      if (entry.uncompressedSize > MAX_MANIFEST_BYTES)
        throw refused(
          '/sourceZipUrl',
          `names a zip whose ${MANIFEST_ENTRY} is over ${MAX_MANIFEST_BYTES} bytes`,
        );
      const chunks: Buffer[] = [];
      for await (const chunk of await archive.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      manifest = Buffer.concat(chunks);
    }
  } catch (err) {
    if (err instanceof RequestRefused) throw err;
    throw notReadable((err as Error).message);
  }
  if (!manifest) throw refused('/sourceZipUrl', `names a zip with no ${MANIFEST_ENTRY} at its root`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(manifest);
  } catch {
    throw refused(`/sourceZipUrl/${MANIFEST_ENTRY}`, 'is not UTF-8 text');
  }
}
