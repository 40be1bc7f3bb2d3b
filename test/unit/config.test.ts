import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: undefined,
      publicUrl: 'http://localhost:8080',
      staleRunSeconds: 20,
      syncConcurrency: 32,
      syncRunsPerConnection: 2,
      outboundPolicy: 'standard',
      allowedOutbound: [],
    });
    // PORT=0 binds any port: the public URL is known once the server listens.
    expect(loadConfig({ PORT: '0' }).publicUrl).toBe('');
    expect(c.dataDir).toMatch(/\.trellis$/);
  });

  it('parses provider overrides to origins', () => {
    const c = loadConfig({ TRELLIS_PROVIDER_OVERRIDES: '{"hubspot":"http://127.0.0.1:9001/some/path"}' });
    expect(c.providerOverrides).toEqual({ hubspot: 'http://127.0.0.1:9001' });
  });

  it.each([
    [{ PORT: '99999' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ TRELLIS_ENCRYPTION_KEY: 'short' }, 'TRELLIS_ENCRYPTION_KEY'],
    [{ TRELLIS_PUBLIC_URL: 'nope' }, 'TRELLIS_PUBLIC_URL'],
    [{ TRELLIS_API_KEY: 'short' }, 'TRELLIS_API_KEY'],
    [{ TRELLIS_PROVIDER_OVERRIDES: '[1]' }, 'TRELLIS_PROVIDER_OVERRIDES'],
    [{ TRELLIS_PROVIDER_OVERRIDES: '{"hubspot":"not a url"}' }, 'TRELLIS_PROVIDER_OVERRIDES.hubspot'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRELLIS_LOG_FORMAT: 'text' }, 'TRELLIS_LOG_FORMAT'],
    [{ TRELLIS_STALE_RUN_SECONDS: '1' }, 'TRELLIS_STALE_RUN_SECONDS'],
    [{ TRELLIS_STALE_RUN_SECONDS: 'soon' }, 'TRELLIS_STALE_RUN_SECONDS'],
    [{ TRELLIS_SYNC_CONCURRENCY: '0' }, 'TRELLIS_SYNC_CONCURRENCY'],
    [{ TRELLIS_SYNC_RUNS_PER_CONNECTION: 'two' }, 'TRELLIS_SYNC_RUNS_PER_CONNECTION'],
    [{ TRELLIS_OUTBOUND_POLICY: 'open' }, 'TRELLIS_OUTBOUND_POLICY'],
    [{ TRELLIS_ALLOWED_OUTBOUND: '10.0.0.0/33' }, 'TRELLIS_ALLOWED_OUTBOUND'],
    [{ TRELLIS_ALLOWED_OUTBOUND: 'db.internal,http://x' }, 'TRELLIS_ALLOWED_OUTBOUND'],
    [{ TRELLIS_REQUEST_TIMEOUT_SECONDS: '0' }, 'TRELLIS_REQUEST_TIMEOUT_SECONDS'],
  ])('names the bad variable: %j', (env, name) => {
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('reads the outbound policy and its allowances', () => {
    const c = loadConfig({
      TRELLIS_OUTBOUND_POLICY: 'strict',
      TRELLIS_ALLOWED_OUTBOUND: ' 10.1.0.0/16, db.internal ,*.corp.example,',
    });
    expect(c.outboundPolicy).toBe('strict');
    expect(c.allowedOutbound).toEqual(['10.1.0.0/16', 'db.internal', '*.corp.example']);
  });

  it('accepts a hex or base64 encryption key of 32 bytes', () => {
    expect(loadConfig({ TRELLIS_ENCRYPTION_KEY: 'ab'.repeat(32) }).encryptionKey).toHaveLength(32);
    expect(
      loadConfig({ TRELLIS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') }).encryptionKey,
    ).toHaveLength(32);
  });
});
