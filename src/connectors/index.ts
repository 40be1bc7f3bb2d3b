import { apollo } from './apollo/index.ts';
import {
  type CatalogEntry,
  type CommonObjectSource,
  isProviderName,
  NAME_ONLY_PROVIDERS,
  PROVIDER_NAMES,
  type ProviderName,
  type ProviderObjects,
} from './catalog.ts';
import { type CommonModel, commonModel, type ModelMapping } from './common-models/index.ts';
import { gong } from './gong/index.ts';
import { hubspot } from './hubspot/index.ts';
import { pipedrive } from './pipedrive/index.ts';
import type { ProviderModule } from './provider.ts';
import { salesforce } from './salesforce/index.ts';

/** Every provider Trellis connects to: one folder each. Adding a folder means adding it here. */
export const PROVIDERS: readonly ProviderModule[] = [apollo, gong, hubspot, pipedrive, salesforce];

const byName = new Map<string, ProviderModule>(PROVIDERS.map((p) => [p.definition.name, p]));

/** The provider's folder, or undefined for a provider known only by name. */
export function providerModule(name: ProviderName): ProviderModule | undefined {
  return byName.get(name);
}

/** The whole catalog, by name: the providers' own entries and the name-only ones. */
export const CATALOG = Object.fromEntries(
  PROVIDER_NAMES.map((name): [ProviderName, CatalogEntry] => {
    const entry = byName.get(name)?.definition ?? NAME_ONLY_PROVIDERS.find((p) => p.name === name);
    if (!entry) throw new Error(`provider "${name}" has neither a folder nor a name-only entry`);
    return [name, entry];
  }),
) as Record<ProviderName, CatalogEntry>;

/**
 * The objects a provider's connector reads and writes; undefined for a name that is not a
 * provider Trellis connects to.
 */
export function objectsOf(provider: string): ProviderObjects | undefined {
  return isProviderName(provider) ? byName.get(provider)?.definition.objects : undefined;
}

/**
 * Whether a sync of `object` can run for `provider`: the object is one its connector reads, listed
 * or named as the provider's custom objects are (by their internal names too when `kind` says the
 * object is custom). Called when what to read is saved, so that a config naming an object nothing
 * can read is refused then rather than failing at run time.
 */
export function readableObject(
  provider: string,
  object: string,
  kind: 'standard' | 'custom' = 'standard',
): boolean {
  const objects = objectsOf(provider);
  if (!objects) return false;
  const { custom } = objects;
  return (
    objects.read.includes(object) ||
    (custom?.names.test(object) ?? false) ||
    (kind === 'custom' && (custom?.internalNames?.test(object) ?? false))
  );
}

/** One common object as one provider syncs it: the model, where its records come from, and the mapping. */
export interface CommonObject {
  model: CommonModel;
  source: CommonObjectSource;
  mapping: ModelMapping;
}

/**
 * The common object `name` of `provider`'s category, when the provider maps its records into it
 * (its catalog entry lists it); undefined otherwise.
 */
export function commonObjectOf(provider: string, name: string): CommonObject | undefined {
  const module = isProviderName(provider) ? byName.get(provider) : undefined;
  const sources = module?.definition.objects.common;
  if (!module || !sources || !Object.hasOwn(sources, name)) return undefined;
  const model = commonModel(module.definition.category, name);
  const mapping = module.commonModels?.[name];
  if (!model || !mapping) return undefined;
  return { model, source: sources[name]!, mapping };
}

/** The common objects a provider syncs, by name (none for a provider known only by name). */
export function commonObjectNames(provider: string): string[] {
  const module = isProviderName(provider) ? byName.get(provider) : undefined;
  return Object.keys(module?.definition.objects.common ?? {});
}
