import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The core and the engine speak the core's words; each API surface translates its own JSON at its
 * edge (src/api/<surface>). These are words of the surfaces' wire formats that the core and the
 * engine must not use, in code or in strings: if one appears there, a surface's shape has leaked
 * into the layer that every surface shares.
 */
const WIRE_WORDS = [
  // Supaglue sync configs and connection sync configs
  'default_config',
  'common_objects',
  'standard_objects',
  'custom_objects',
  'sync_strategy_override',
  'associations_to_fetch',
  'destination_config',
  'full_sync_every_n_incrementals',
  'auto_start_on_connection',
  'period_ms',
  'full then incremental',
  'full only',
  // Supaglue webhook payloads and run statuses
  'webhook_event_type',
  'IN_PROGRESS',
  'object_name',
  'entity_name',
  // Supaglue schemas, entities, provider objects, field mappings and entity mappings. (The
  // `field_mappings` and `entity_mappings` lists are also the core's column names, so they are
  // not here.)
  'mapped_name',
  'allow_additional_field_mappings',
  'schema_id',
  'entity_id',
  'schema_field',
  'mapped_field',
  'entity_field',
  'is_added_by_customer',
  'schema_mapped_name',
  'customer_mapped_name',
  'is_additional',
  'schema_mappings_config',
  // Ampersand and Connectors API words that have core names (group, consumer, connector)
  'groupRef',
  'consumerRef',
  'groupName',
  // Ampersand Platform API projects, connections and providers (src/api/ampersand/*-translation.ts)
  'consumerName',
  'appName',
  'orgId',
  'createTime',
  'updateTime',
  'providerWorkspaceRef',
  'providerConsumerRef',
  'authScheme',
  'oauth2/authorizationCode',
  'oauth2/authorizationCodePKCE',
  'oauth2Opts',
  'apiKeyOpts',
  'explicitScopesRequired',
  'defaultModule',
  // Ampersand Platform API connection requests, provider apps and destinations
  'basicAuth',
  'oauth2ClientCredentials',
  'oauth2PasswordCredentials',
  'providerMetadata',
  'updateMask',
  'webhookSigningKey',
  'includeSecrets',
  // Connectors API connectors, their query and their relations (src/api/connectors/*-translation.ts)
  'authentication_implementation_id',
  'authenticationImplementation',
  'authentication_implementation',
  'rate_limit_unit',
  'rate_limit_duration',
  'canonical_key',
  'system_template_id',
  'forSystemTemplate',
  'forSession',
  'platformSession',
  'platform_app_key',
  'connection_pool_id',
  'certificate_id',
  'endpointSchema',
  'fieldTags',
];

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAYERS = ['src/core', 'src/engine'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Each use of a wire word in the given files: `file:line: word`. */
function wireWordUses(files: { name: string; text: string }[], words: readonly string[]): string[] {
  const uses: string[] = [];
  for (const { name, text } of files) {
    text.split('\n').forEach((line, i) => {
      for (const word of words) {
        // Whole words only: `period_ms` must not match inside `retry_period_ms`.
        const pattern = new RegExp(`(^|[^A-Za-z0-9_])${word.replace(/ /g, '\\s+')}($|[^A-Za-z0-9_])`);
        if (pattern.test(line)) uses.push(`${name}:${i + 1}: ${word}`);
      }
    });
  }
  return uses;
}

describe('the core and the engine use no surface wire keys', () => {
  it('finds a wire key where one is written', () => {
    const uses = wireWordUses(
      [
        {
          name: 'x.ts',
          text: "const a = 1;\nif (s.strategy === 'full only') x.default_config = c;\nretry_period_ms",
        },
      ],
      WIRE_WORDS,
    );
    expect(uses).toEqual(['x.ts:2: default_config', 'x.ts:2: full only']);
  });

  it('src/core and src/engine hold none', () => {
    const files = LAYERS.flatMap((layer) => sourceFiles(path.join(ROOT, layer))).map((file) => ({
      name: path.relative(ROOT, file),
      text: fs.readFileSync(file, 'utf8'),
    }));
    expect(files.length).toBeGreaterThan(10);
    expect(wireWordUses(files, WIRE_WORDS)).toEqual([]);
  });
});
