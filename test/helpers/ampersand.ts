import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { responseSchemas } from './openapi-responses.ts';
import type { ApiResponse } from './trellis.ts';

/** The Platform API (Ampersand dialect) as its tests read it: its document, seeds and error shape. */

const SEEDS = path.resolve(import.meta.dirname, '../../../shared/seeds');
const SEED_SPEC = path.join(SEEDS, 'ref_ampersand_platform.openapi.json');
const BUNDLED_SPEC = path.resolve(import.meta.dirname, '../../src/api/ampersand/platform.openapi.json');

/** The published document (or, without the seeds, the bundled copy), with its response schemas. */
export const platformSchemas = responseSchemas(
  JSON.parse(fs.readFileSync(fs.existsSync(SEED_SPEC) ? SEED_SPEC : BUNDLED_SPEC, 'utf8')) as object,
  {
    formats: { pem: /-----BEGIN / },
    // A field with both `fieldName` and `mapToName` (a fixed mapping, as the document describes
    // `mapToName`) is an "existent" field and, with its extra key, a "mapping" one too.
    overlappingOneOf: ['Integration Field', 'Hydrated Integration Field'],
  },
);

/**
 * Seed 004's example answer of "list connections", parsed from the page: the first JSON array on
 * it. Undefined where the seeds are not checked out.
 */
export function seedConnectionsExample(): Record<string, unknown>[] | undefined {
  return seedExample('004_');
}

/** Seed 002's example answer of "list integrations", parsed the same way. */
export function seedIntegrationsExample(): Record<string, unknown>[] | undefined {
  return seedExample('002_');
}

function seedExample(prefix: string): Record<string, unknown>[] | undefined {
  const file = fs.existsSync(SEEDS) ? fs.readdirSync(SEEDS).find((f) => f.startsWith(prefix)) : undefined;
  if (!file) return undefined;
  const page = fs.readFileSync(path.join(SEEDS, file), 'utf8');
  const start = page.indexOf('\n[') + 1;
  // The array ends where its bracket closes: nested arrays also close at the start of a line.
  let depth = 0;
  let inString = false;
  for (let i = start; i < page.length; i++) {
    const c = page[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return JSON.parse(page.slice(start, i + 1)) as Record<string, unknown>[];
    }
  }
  throw new Error(`${file} has no complete JSON array`);
}

const PROBLEM_KEYS = ['type', 'title', 'status', 'detail', 'remedy', 'issues', 'requestId', 'time'];

/**
 * An answer in the Platform API's error shape: `application/problem+json` with exactly the keys
 * Trellis writes, its status in the body, `issues` on 400 and 422 only, and each issue naming
 * where, what and why. Returns the body.
 */
export function expectProblem(res: ApiResponse, status: number): Record<string, unknown> {
  const what = `${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, what).toBe(status);
  expect(res.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
  const body = res.body as Record<string, unknown>;
  expect(
    Object.keys(body).filter((k) => !PROBLEM_KEYS.includes(k)),
    what,
  ).toEqual([]);
  expect(body, what).toMatchObject({
    type: expect.stringMatching(/^urn:trellis:problem:[a-z-]+$/),
    title: expect.any(String),
    status,
    detail: expect.stringMatching(/\S/),
    requestId: expect.stringMatching(/\S/),
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
  });
  if (status === 400 || status === 422) {
    expect(Array.isArray(body.issues), what).toBe(true);
    for (const issue of body.issues as Record<string, unknown>[]) {
      expect(Object.keys(issue).sort(), what).toEqual(['detail', 'in', 'name']);
      expect(['body', 'header', 'path', 'query'], what).toContain(issue.in);
    }
  } else expect(body.issues, what).toBeUndefined();
  return body;
}

/** The operations Trellis serves whose contract test is test/ampersand/contract.test.ts. */
export const SERVED = [
  'getProject',
  'listProjects',
  'listProviders',
  'getProvider',
  'listConnections',
  'getConnection',
  'deleteConnection',
  'listIntegrations',
  'getIntegration',
  'deleteIntegration',
  'batchUpsertIntegrations',
  'getHydratedRevision',
  'listInstallations',
  'listInstallationsForProject',
  'getInstallation',
  'createInstallation',
  'updateInstallation',
  'deleteInstallation',
];

/** Served operations whose contract tests have fixtures of their own, in these files of test/ampersand. */
export const SERVED_ELSEWHERE: Record<string, string> = {
  generateConnection: 'connection-credentials.test.ts',
  updateConnection: 'connection-credentials.test.ts',
  listProviderApps: 'provider-apps.test.ts',
  createProviderApp: 'provider-apps.test.ts',
  updateProviderApp: 'provider-apps.test.ts',
  deleteProviderApp: 'provider-apps.test.ts',
  listDestinations: 'destinations.test.ts',
  createDestination: 'destinations.test.ts',
  getDestination: 'destinations.test.ts',
  updateDestination: 'destinations.test.ts',
  deleteDestination: 'destinations.test.ts',
  oauthConnect: '../auth/oauth-popup.test.ts',
  oauthUpdate: '../auth/oauth-popup.test.ts',
  listOperations: 'scheduled-read.test.ts',
  getOperation: 'scheduled-read.test.ts',
  listOperationLogs: 'scheduled-read.test.ts',
  getBackfillProgress: 'scheduled-read.test.ts',
  createJWTKey: 'jwt.test.ts',
  listJWTKeys: 'jwt.test.ts',
  getJWTKey: 'jwt.test.ts',
  updateJWTKey: 'jwt.test.ts',
  deleteJWTKey: 'jwt.test.ts',
  generateUploadUrl: 'zip-deploy.test.ts',
  createIntegration: 'integrations-one-by-one.test.ts',
  createRevision: 'integrations-one-by-one.test.ts',
};
