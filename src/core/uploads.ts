import { createHash, randomUUID } from 'node:crypto';
import {
  type FileUrlPurpose,
  type FileUrlTerms,
  isFileUrlSignature,
  signFileUrl,
} from '../auth/file-url-signature.ts';
import type { CoreDeps } from './deps.ts';
import { DomainError } from './errors.ts';

/**
 * Files Trellis hosts for a short while behind signed URLs, in Postgres. Uploads: a project asks
 * for a signed URL on Trellis, PUTs a file to it, and names the upload in a later request (a deploy
 * names the zip of its manifest), so that Trellis never fetches a file from elsewhere. Held
 * results: a read result too large for a webhook message waits here for its receiver to GET it.
 * The URLs are path-style, like a storage bucket's: `<public URL>/<bucket>/<path>`, the path
 * beginning with the project's id.
 */

/** The first segment of every upload URL's path, where Trellis serves the PUTs. */
export const UPLOAD_BUCKET = 'uploads';
/** Long enough for a client to send its file, short enough that a leaked URL soon stops working. */
export const UPLOAD_URL_LIFETIME_MS = 15 * 60_000;
/** The most an upload may hold; a manifest's zip is a few kilobytes. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
/** Uploads are for the request that follows them, not for keeping. */
const UPLOAD_KEPT_SECONDS = 24 * 3600;

const UPLOAD_PATH = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/[0-9a-f-]{36}\.zip$/;

export interface UploadGrant {
  /** Where the upload will be, within the bucket. */
  path: string;
  /** The signed URL to PUT it to. */
  url: string;
}

/** What a genuine, unexpired upload URL allows. */
export interface UploadPermit {
  projectId: string;
  path: string;
  /** The digest the bytes must have (the MD5 the URL was asked for), if one was given. */
  md5?: Buffer;
}

/**
 * A URL the project may PUT one zip to, for the next 15 minutes; with `md5` (base64), only bytes
 * of that digest are taken.
 */
export function grantUpload(deps: CoreDeps, projectId: string, md5?: string): UploadGrant {
  const path = `${projectId}/${randomUUID()}.zip`;
  const terms: FileUrlTerms = {
    path,
    expires: Math.floor((Date.now() + UPLOAD_URL_LIFETIME_MS) / 1000),
    ...(md5 === undefined ? {} : { md5 }),
  };
  const query = new URLSearchParams({ expires: String(terms.expires) });
  if (md5 !== undefined) query.set('md5', md5);
  query.set('signature', signFileUrl(deps.vault, 'upload', terms));
  return { path, url: `${uploadUrlBase(deps)}${path}?${query}` };
}

/** Where every upload URL of this server starts: the public URL and the bucket. */
const uploadUrlBase = (deps: CoreDeps) => `${deps.config.publicUrl}/${UPLOAD_BUCKET}/`;

/**
 * The project a URL to a file Trellis hosts names, once its signature and expiry are checked:
 * a URL Trellis did not sign for this purpose, or changed in any part, is refused (403), as is one
 * past its time.
 */
function checkFileUrl(
  deps: CoreDeps,
  purpose: FileUrlPurpose,
  pattern: RegExp,
  path: string,
  query: { expires?: string; md5?: string; signature?: string },
): string {
  const kind = `${purpose} URL`;
  const project = pattern.exec(path)?.[1];
  const expires = Number(query.expires);
  if (!project || !query.signature || !Number.isSafeInteger(expires))
    throw new DomainError(
      'forbidden',
      `this is not ${purpose === 'upload' ? 'an' : 'a'} ${kind} that Trellis signed`,
    );
  const terms: FileUrlTerms = { path, expires, ...(query.md5 === undefined ? {} : { md5: query.md5 }) };
  if (!isFileUrlSignature(deps.vault, purpose, terms, query.signature))
    throw new DomainError('forbidden', `the ${kind} does not match its signature`);
  if (Date.now() > expires * 1000)
    throw new DomainError('forbidden', `the ${kind} has expired: ask for a new one`);
  return project;
}

/** Checks an upload URL before anything is read from the request (see checkFileUrl). */
export function checkUploadUrl(
  deps: CoreDeps,
  path: string,
  query: { expires?: string; md5?: string; signature?: string },
): UploadPermit {
  return {
    projectId: checkFileUrl(deps, 'upload', UPLOAD_PATH, path, query),
    path,
    ...(query.md5 === undefined ? {} : { md5: Buffer.from(query.md5, 'base64') }),
  };
}

/** Whether a value is an MD5 digest in base64, as clients send it (16 bytes, 24 characters). */
export const isBase64Md5 = (value: string): boolean => /^[A-Za-z0-9+/]{22}==$/.test(value);

/** The MD5 digest of some bytes, which uploads are checked against. */
export const md5Of = (bytes: Uint8Array): Buffer => createHash('md5').update(bytes).digest();

/** Keeps a file's bytes at `path`, replacing what was there; every file kept also deletes those older than a day. */
async function keepFile(deps: CoreDeps, projectId: string, path: string, bytes: Buffer): Promise<void> {
  await deps.db.query(
    `with pruned as (delete from uploads where created_at < now() - make_interval(secs => $5))
     insert into uploads (path, project_id, bytes, md5) values ($1, $2, $3, $4)
     on conflict (path) do update set bytes = excluded.bytes, md5 = excluded.md5, created_at = now()`,
    [path, projectId, bytes, md5Of(bytes), UPLOAD_KEPT_SECONDS],
  );
}

/** Keeps an upload's bytes, replacing what an earlier PUT to the same URL left. */
export async function saveUpload(deps: CoreDeps, permit: UploadPermit, bytes: Buffer): Promise<void> {
  await keepFile(deps, permit.projectId, permit.path, bytes);
}

/**
 * The path of an upload that `url` names on this server (its upload URL, with or without the
 * query), or undefined for any other URL.
 */
export function uploadPathAt(deps: CoreDeps, url: string): string | undefined {
  const base = uploadUrlBase(deps);
  if (!url.startsWith(base)) return undefined;
  return url.slice(base.length).split(/[?#]/)[0];
}

/** The bytes of one of the project's uploads kept at `path`; undefined if it has none there. */
export async function readUpload(
  deps: CoreDeps,
  projectId: string,
  path: string,
): Promise<Buffer | undefined> {
  if (!UPLOAD_PATH.test(path)) return undefined;
  const { rows } = await deps.db.query<{ bytes: Buffer }>(
    `select bytes from uploads where path = $1 and project_id = $2
       and created_at >= now() - make_interval(secs => $3)`,
    [path, projectId, UPLOAD_KEPT_SECONDS],
  );
  return rows[0]?.bytes;
}

/** The first segment of every held result's URL, where Trellis serves the GETs. */
export const RESULTS_BUCKET = 'results';
/** As long as Ampersand keeps a result's download URL working. */
export const RESULT_URL_LIFETIME_MS = 15 * 60_000;

const RESULT_PATH = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/[0-9a-f-]{36}\.json$/;

/** Keeps a read result (JSON) for its receiver; answers the URL it may GET it from, for 15 minutes. */
export async function holdResult(deps: CoreDeps, projectId: string, json: string): Promise<string> {
  const path = `${projectId}/${randomUUID()}.json`;
  await keepFile(deps, projectId, path, Buffer.from(json));
  const terms: FileUrlTerms = { path, expires: Math.floor((Date.now() + RESULT_URL_LIFETIME_MS) / 1000) };
  const query = new URLSearchParams({
    expires: String(terms.expires),
    signature: signFileUrl(deps.vault, 'download', terms),
  });
  return `${deps.config.publicUrl}/${RESULTS_BUCKET}/${path}?${query}`;
}

/**
 * The held result a download URL names, once its signature and expiry are checked (403 for a URL
 * Trellis did not sign or that has expired); 404 when it is no longer kept.
 */
export async function readHeldResult(
  deps: CoreDeps,
  path: string,
  query: { expires?: string; signature?: string },
): Promise<Buffer> {
  const project = checkFileUrl(deps, 'download', RESULT_PATH, path, query);
  const { rows } = await deps.db.query<{ bytes: Buffer }>(
    'select bytes from uploads where path = $1 and project_id = $2',
    [path, project],
  );
  if (!rows[0]) throw new DomainError('not_found', 'the result is no longer kept');
  return rows[0].bytes;
}
