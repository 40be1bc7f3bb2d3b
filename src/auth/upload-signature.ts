import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Vault } from './vault.ts';

/**
 * The signature of an upload URL: an HMAC, with a key derived from the vault's for this purpose
 * alone, over what the URL allows — the upload's path (which names its project), until when, and
 * the MD5 digest its bytes must have when one was given.
 */
export interface UploadTerms {
  path: string;
  /** Unix seconds. */
  expires: number;
  /** Base64, as the client gave it; absent when the URL takes any bytes. */
  md5?: string;
}

function mac(vault: Vault, terms: UploadTerms): Buffer {
  return createHmac('sha256', vault.deriveKey('upload-url'))
    .update(`${terms.path}\n${terms.expires}\n${terms.md5 ?? ''}`)
    .digest();
}

export function signUpload(vault: Vault, terms: UploadTerms): string {
  return mac(vault, terms).toString('base64url');
}

/** Whether `signature` is the one these terms were signed with (constant time). */
export function isUploadSignature(vault: Vault, terms: UploadTerms, signature: string): boolean {
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(vault, terms);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
