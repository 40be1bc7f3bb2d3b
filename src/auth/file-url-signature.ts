import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Vault } from './vault.ts';

/**
 * The signature of a URL to a file Trellis hosts: an HMAC, with a key derived from the vault's for
 * that kind of URL alone (an upload URL signs nothing a download URL could use, and the other way
 * round), over what the URL allows — the file's path (which names its project), until when, and
 * the MD5 digest its bytes must have when one was given.
 */
export type FileUrlPurpose = 'upload' | 'download';

export interface FileUrlTerms {
  path: string;
  /** Unix seconds. */
  expires: number;
  /** Base64, as the client gave it; absent when the URL takes any bytes. */
  md5?: string;
}

function mac(vault: Vault, purpose: FileUrlPurpose, terms: FileUrlTerms): Buffer {
  return createHmac('sha256', vault.deriveKey(`${purpose}-url`))
    .update(`${terms.path}\n${terms.expires}\n${terms.md5 ?? ''}`)
    .digest();
}

export function signFileUrl(vault: Vault, purpose: FileUrlPurpose, terms: FileUrlTerms): string {
  return mac(vault, purpose, terms).toString('base64url');
}

/** Whether `signature` is the one these terms were signed with for this purpose (constant time). */
export function isFileUrlSignature(
  vault: Vault,
  purpose: FileUrlPurpose,
  terms: FileUrlTerms,
  signature: string,
): boolean {
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(vault, purpose, terms);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
