import { parseArgs } from 'node:util';
import { rotateEncryption } from '../auth/key-rotation.ts';
import type { Vault } from '../auth/vault.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import { DomainError } from '../core/errors.ts';
import {
  createApiKey,
  createProject,
  findProject,
  listApiKeys,
  listProjects,
  revokeApiKey,
} from '../core/projects.ts';
import { createLogger, type Logger } from '../logger.ts';
import { openDatabase, type Roles, startRuntime } from '../runtime.ts';

const USAGE = `Usage: trellis <command>

Commands:
  start                      API, workers and scheduler in one process (embedded Postgres unless DATABASE_URL)
  api                        only the HTTP API
  worker                     only the background workers
  migrate                    apply database migrations and exit
  projects create <name>     create a project; prints its id and API key as JSON
  projects list              list projects as JSON
  keys create [--project P] [--name N]   create an API key (default project unless --project)
  keys list [--project P]    list API keys (never the keys themselves)
  keys revoke <key-id>       revoke an API key
  keys rotate-encryption     re-seal every stored secret under TRELLIS_ENCRYPTION_KEY (run with the old
                             key in TRELLIS_ENCRYPTION_KEY_PREVIOUS; resumable, safe while Trellis runs)

Configuration comes from environment variables; see README.md.`;

function print(value: unknown) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function serve(config: Config, log: Logger, roles: Roles, label: string) {
  const runtime = await startRuntime(config, log, roles);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    await runtime.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const lines = [`Trellis ${label} is running.`];
  if (roles.api) {
    lines.push(
      `  Console         ${config.publicUrl}/console`,
      `  Management API  ${config.publicUrl}/mgmt/v2`,
      `  API reference   ${config.publicUrl}/docs`,
    );
  }
  if (runtime.operationsUrl) lines.push(`  Metrics         ${runtime.operationsUrl}/metrics`);
  if (!config.databaseUrl) lines.push(`  Data directory  ${config.dataDir}`);
  if (runtime.bootstrapKey) {
    lines.push(
      '',
      `  API key of the default project (shown once, store it now): ${runtime.bootstrapKey}`,
      `  Try: curl -H 'x-api-key: ${runtime.bootstrapKey}' ${config.publicUrl}/mgmt/v2/customers`,
    );
  } else if (roles.api) {
    lines.push('', '  Use your API key in the x-api-key header (`trellis keys create` makes a new one).');
  }
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}

/** Runs `fn` with a database connection and stops everything afterwards. */
async function withDatabase<T>(
  config: Config,
  log: Logger,
  fn: (db: Awaited<ReturnType<typeof openDatabase>>['db'], vault: Vault) => Promise<T>,
) {
  const { db, vault, embedded } = await openDatabase(config, log);
  try {
    return await fn(db, vault);
  } finally {
    await db.end();
    await embedded?.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      project: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig();
  // Commands that print JSON keep stdout clean: their logs go to stderr at warn level.
  const serving = ['start', 'api', 'worker'].includes(command);
  const format = config.logFormat === 'auto' ? (process.stdout.isTTY ? 'pretty' : 'json') : config.logFormat;
  const log = createLogger(serving ? config.logLevel : 'warn', undefined, format);

  switch (command) {
    case 'start':
      return serve(config, log, { api: true, worker: true }, 'platform');
    case 'api':
      return serve(config, log, { api: true, worker: false }, 'API');
    case 'worker':
      return serve(config, log, { api: false, worker: true }, 'worker');
    case 'migrate':
      return withDatabase(config, log, async () => print({ migrated: true }));
    case 'projects':
      if (sub === 'create' && arg) {
        return withDatabase(config, log, async (db) => {
          const { project, apiKey } = await createProject(db, arg);
          print({ id: project.id, name: project.name, api_key: apiKey });
        });
      }
      if (sub === 'list') {
        return withDatabase(config, log, async (db) => print(await listProjects(db)));
      }
      break;
    case 'keys':
      if (sub === 'create') {
        return withDatabase(config, log, async (db) => {
          const project = await findProject(db, values.project ?? 'default');
          const { id, key } = await createApiKey(db, project.id, values.name ?? 'cli');
          print({ id, project_id: project.id, api_key: key });
        });
      }
      if (sub === 'list') {
        return withDatabase(config, log, async (db) => {
          const project = values.project ? await findProject(db, values.project) : undefined;
          print(await listApiKeys(db, project?.id));
        });
      }
      if (sub === 'rotate-encryption') {
        return withDatabase(config, log, async (db, vault) => {
          const tables = await rotateEncryption(db, vault, (p) =>
            process.stderr.write(`${p.table}.${p.column}: ${p.resealed} re-sealed, ${p.current} current\n`),
          );
          print({ key_id: vault.keyId, tables });
        });
      }
      if (sub === 'revoke' && arg) {
        return withDatabase(config, log, async (db) => {
          await revokeApiKey(db, arg);
          print({ revoked: arg });
        });
      }
      break;
  }
  process.stderr.write(`${USAGE}\n`);
  process.exitCode = 2;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${err.message}\n`);
    process.exit(78);
  }
  if (err instanceof DomainError) {
    process.stderr.write(`Error: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Trellis failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
