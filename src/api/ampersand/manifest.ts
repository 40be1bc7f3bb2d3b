import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isProviderName } from '../../connectors/catalog.ts';
import type { IntegrationContent } from '../../core/integrations.ts';
import type { FieldMapping, FieldSelection, ReadObject, ReadPolicy } from '../../core/read-plan.ts';
import { compileSchema, type Json } from '../surface/contract.ts';
import { type RequestIssue, RequestRefused } from '../surface/errors.ts';

/**
 * Ampersand's integration manifest (`amp.yaml`): parsed, checked against its published schema, and
 * translated into the core's integrations. Each integration's entry is kept as its revision's
 * source, so that the Platform API shows a revision's content as it was deployed.
 */

interface ManifestField {
  fieldName?: string;
  mapToName?: string;
}

interface ManifestReadObject {
  objectName: string;
  destination: string;
  schedule: string;
  requiredFields?: ManifestField[];
  optionalFields?: ManifestField[];
  optionalFieldsAuto?: 'all';
  backfill?: { defaultPeriod: { days?: number; fullHistory?: boolean } };
}

/** One integration of a manifest, as written. */
export interface ManifestIntegration {
  name: string;
  provider: string;
  displayName?: string;
  read?: { objects?: ManifestReadObject[] };
  write?: { objects?: { objectName: string }[] };
  proxy?: { enabled?: boolean };
}

export interface Manifest {
  specVersion: string;
  integrations: ManifestIntegration[];
}

/** What a revision keeps of its manifest: the spec version and the integration's own entry. */
export interface RevisionSource extends Record<string, unknown> {
  specVersion: string;
  content: ManifestIntegration;
}

const schemaDocument = JSON.parse(
  fs.readFileSync(new URL('./manifest.schema.json', import.meta.url), 'utf8'),
) as { components: { schemas: Record<string, Json> } };
const checkManifest = compileSchema(schemaDocument.components.schemas.Manifest!, { in: 'body', name: '' });

const refused = (issues: RequestIssue[]) =>
  new RequestRefused('invalid_input', issues.map((i) => `${i.name} ${i.detail}`).join('; '), {
    status: 422,
    issues,
  });

/**
 * Parses and checks a manifest; a document that is not one is a 422 naming where it goes wrong,
 * under `at` (where the request gave the manifest: `/sourceYaml`, or the zip's amp.yaml).
 */
export function parseManifest(sourceYaml: string, at: string): Manifest {
  let document: unknown;
  try {
    document = parseYaml(sourceYaml, { maxAliasCount: 100 });
  } catch (err) {
    throw refused([{ in: 'body', name: at, detail: `is not YAML: ${(err as Error).message}` }]);
  }
  return checkedManifest(document, (pointer) => `${at}${pointer}`);
}

/**
 * Checks a manifest given as a value; `pathOf` says where in the request a pointer into the
 * manifest is (createIntegration gives one integration of a manifest, not a whole one).
 */
export function checkedManifest(document: unknown, pathOf: (pointer: string) => string): Manifest {
  const issues = checkManifest(document);
  if (issues.length > 0) throw refused(issues.map((issue) => ({ ...issue, name: pathOf(issue.name) })));
  const manifest = document as Manifest;
  const unknownProvider = manifest.integrations.findIndex((i) => !isProviderName(i.provider));
  if (unknownProvider >= 0) {
    throw refused([
      {
        in: 'body',
        name: pathOf(`/integrations/${unknownProvider}/provider`),
        detail: `names no provider Trellis knows ("${manifest.integrations[unknownProvider]!.provider}")`,
      },
    ]);
  }
  return manifest;
}

/** The field names a list of manifest fields reads (mappings of no provider field read none). */
const fieldNames = (fields: ManifestField[] | undefined) =>
  (fields ?? []).flatMap((f) => (f.fieldName === undefined ? [] : [f.fieldName]));

/** The names manifest fields are mapped to: a provider field's fixed name, or one each customer maps. */
const fieldMappings = (fields: ManifestField[]): FieldMapping[] =>
  fields.flatMap((f) =>
    f.mapToName === undefined
      ? []
      : [{ name: f.mapToName, ...(f.fieldName === undefined ? {} : { field: f.fieldName }) }],
  );

/**
 * How an object of a manifest is read: on its cron schedule, incrementally, the first read going
 * back `backfill` days (Ampersand reads no history unless asked: no backfill is zero days).
 */
function policyOf(o: ManifestReadObject): ReadPolicy {
  const period = o.backfill?.defaultPeriod;
  const backfillDays = period?.fullHistory ? undefined : (period?.days ?? 0);
  return {
    schedule: { cron: o.schedule },
    mode: 'incremental',
    ...(backfillDays === undefined ? {} : { backfillDays }),
  };
}

/**
 * The core's content of a manifest's integration; `destinationIdOf` resolves a destination by its
 * name (an unknown name is the caller's 4xx).
 */
export function integrationContentOf(
  manifest: Manifest,
  integration: ManifestIntegration,
  destinationIdOf: (name: string) => string,
): IntegrationContent & { name: string; providerName: string } {
  const objects = (integration.read?.objects ?? []).map((o): ReadObject => {
    const mappings = fieldMappings([...(o.requiredFields ?? []), ...(o.optionalFields ?? [])]);
    const fields: FieldSelection = {
      required: fieldNames(o.requiredFields),
      optional: fieldNames(o.optionalFields),
      ...(o.optionalFieldsAuto === 'all' ? { allOptional: true } : {}),
      ...(mappings.length > 0 ? { mappings } : {}),
    };
    return {
      target: { kind: 'standard', object: o.objectName },
      policy: policyOf(o),
      destinationId: destinationIdOf(o.destination),
      fields,
    };
  });
  const source: RevisionSource = { specVersion: manifest.specVersion, content: integration };
  return {
    name: integration.name,
    providerName: integration.provider,
    read: {
      // Every object carries its own schedule; the default applies to none of them.
      defaults: objects[0]?.policy ?? { schedule: { cron: '0 * * * *' }, mode: 'incremental' },
      objects,
    },
    writeObjects: (integration.write?.objects ?? []).map((o) => o.objectName),
    proxyEnabled: integration.proxy?.enabled === true,
    source,
  };
}
