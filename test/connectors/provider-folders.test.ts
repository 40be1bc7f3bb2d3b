import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, SIMULATORS, startSimulator } from '../../simulators/index.ts';
import { NAME_ONLY_PROVIDERS, PROVIDER_NAMES } from '../../src/connectors/catalog.ts';
import {
  CATALOG,
  commonObjectOf,
  objectsOf,
  PROVIDERS,
  providerModule,
  readableObject,
} from '../../src/connectors/index.ts';
import type { ConnectorContext } from '../../src/connectors/types.ts';
import { collect, simulatorContext } from '../helpers/connector.ts';

/**
 * A provider is one folder of src/connectors, listed in src/connectors/index.ts. What a folder
 * declares is checked here, so that a folder out of step with its connector, or a catalog entry
 * without one, fails the suite instead of a sync at run time.
 */
const CONNECTORS_DIR = path.join(import.meta.dirname, '../../src/connectors');
/** Not a provider: Supaglue's unified models, which providers map their records into. */
const SHARED_FOLDERS = ['common-models'];
const folders = fs
  .readdirSync(CONNECTORS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !SHARED_FOLDERS.includes(entry.name))
  .map((entry) => entry.name)
  .sort();
const moduleNames = PROVIDERS.map((p) => p.definition.name);

describe('the provider catalog and the provider folders', () => {
  it('every provider name has either a folder or a name-only entry, never both', () => {
    const nameOnly = NAME_ONLY_PROVIDERS.map((p) => p.name);
    expect([...moduleNames, ...nameOnly].sort()).toEqual([...PROVIDER_NAMES].sort());
    expect(moduleNames.filter((name) => nameOnly.includes(name))).toEqual([]);
  });

  it('every folder is a provider listed in src/connectors/index.ts, under its own name', () => {
    expect([...moduleNames].sort()).toEqual(folders);
    for (const name of folders) {
      const entry = path.join(CONNECTORS_DIR, name, 'index.ts');
      expect(fs.existsSync(entry), `${name}/index.ts`).toBe(true);
    }
  });

  it('a catalog entry with API details is a folder with a connector that reads; a name-only entry has neither', () => {
    for (const name of PROVIDER_NAMES) {
      const module = providerModule(name);
      if (CATALOG[name].api) {
        expect(module, `${name} has API details but no folder`).toBeDefined();
        expect(module!.connector.read, `${name}'s connector cannot read`).toBeTypeOf('function');
        expect(CATALOG[name]).toBe(module!.definition);
      } else {
        expect(module, `${name} has a folder but no API details`).toBeUndefined();
        expect(objectsOf(name)).toBeUndefined();
      }
    }
  });

  it("a folder's object lists agree with its connector's capabilities", () => {
    for (const { definition, connector } of PROVIDERS) {
      const { read, write, custom } = definition.objects;
      expect(read.length, `${definition.name} lists no object to read`).toBeGreaterThan(0);
      expect(new Set(read).size, `${definition.name} lists an object twice`).toBe(read.length);
      for (const object of write) {
        expect(
          readableObject(definition.name, object),
          `${definition.name} writes ${object} but cannot read it`,
        ).toBe(true);
      }
      if (write.length > 0 || custom) {
        expect(connector.create, `${definition.name} lists objects to write`).toBeTypeOf('function');
        expect(connector.update, `${definition.name} lists objects to write`).toBeTypeOf('function');
      }
      // A global or sticky pattern remembers where it last matched: `test` would answer by turns.
      expect(custom?.names.global || custom?.names.sticky || false).toBe(false);
    }
  });

  it("a folder's common objects are models of its category, each with a mapping and an object it reads", () => {
    for (const { definition, commonModels } of PROVIDERS) {
      const listed = Object.keys(definition.objects.common ?? {});
      expect(Object.keys(commonModels ?? {}).sort(), `${definition.name}'s mappings`).toEqual(
        [...listed].sort(),
      );
      for (const name of listed) {
        const common = commonObjectOf(definition.name, name);
        expect(common, `${definition.name} ${name}`).toBeDefined();
        expect(common!.model.category).toBe(definition.category);
        expect(readableObject(definition.name, common!.source.object), `${definition.name} ${name}`).toBe(
          true,
        );
      }
    }
    expect(commonObjectOf('hubspot', 'lead')).toBeUndefined();
    expect(commonObjectOf('hubspot', 'toString')).toBeUndefined();
    expect(commonObjectOf('zoho_crm', 'contact')).toBeUndefined();
  });

  it('every folder has a simulator to check it against', () => {
    expect(moduleNames.filter((name) => !SIMULATORS[name])).toEqual([]);
  });

  it('readableObject takes listed objects and the custom objects a provider allows, nothing else', () => {
    expect(readableObject('hubspot', 'contacts')).toBe(true);
    expect(readableObject('hubspot', 'Contact')).toBe(false);
    expect(readableObject('hubspot', 'Invoice__c')).toBe(false);
    expect(readableObject('salesforce', 'Contact')).toBe(true);
    expect(readableObject('salesforce', 'contact')).toBe(false);
    expect(readableObject('salesforce', 'Invoice__c')).toBe(true);
    expect(readableObject('salesforce', 'Invoice__x')).toBe(false);
    expect(readableObject('salesforce', '__c')).toBe(false);
    expect(readableObject('apollo', 'sequences')).toBe(true);
    expect(readableObject('zoho_crm', 'Contacts')).toBe(false);
    expect(readableObject('myspace', 'contacts')).toBe(false);
    expect(readableObject('hubspot', 'toString')).toBe(false);
    // HubSpot's custom object types: by their identifiers anywhere, by their internal names only
    // where the object is said to be custom (those look like any object's name).
    for (const name of ['2-7654321', 'p24681357_invoice', 'p_invoice']) {
      expect(readableObject('hubspot', name), name).toBe(true);
    }
    expect(readableObject('hubspot', 'invoice')).toBe(false);
    expect(readableObject('hubspot', 'invoice', 'custom')).toBe(true);
    expect(readableObject('hubspot', '0-1', 'custom')).toBe(false);
    expect(readableObject('hubspot', '2-', 'custom')).toBe(false);
    expect(readableObject('hubspot', 'in voice', 'custom')).toBe(false);
    expect(readableObject('salesforce', 'Invoice', 'custom')).toBe(false);
    expect(readableObject('salesforce', 'Invoice__c', 'custom')).toBe(true);
  });
});

describe.each(
  PROVIDERS.map((p) => [p.definition.name, p] as const),
)('%s reads every object its folder lists from its simulator', (name, provider) => {
  let sim: RunningSimulator;
  let ctx: ConnectorContext;

  beforeAll(async () => {
    sim = await startSimulator(SIMULATORS[name]!, { records: 30 });
    ctx = await simulatorContext(provider, sim.url);
  });
  afterAll(async () => {
    await sim?.close();
  });

  const expectFirstPage = async (object: string) => {
    const { records } = await collect(provider.connector.read!(ctx, { object }), 1);
    expect(records.length, object).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.id).toBeTypeOf('string');
      expect(Number.isNaN(r.lastModifiedAt.getTime())).toBe(false);
    }
  };

  it.each(provider.definition.objects.read)('%s: the first page comes back with records', expectFirstPage);

  // Only providers whose accounts define objects of their own have a test of them (none is skipped).
  if (provider.definition.objects.custom)
    it("the simulator's custom objects, as the connector lists them, read like the listed objects", async () => {
      const listed = await provider.connector.listObjects!(ctx);
      const custom = listed.filter((object) => !provider.definition.objects.read.includes(object));
      expect(custom.length).toBeGreaterThan(0);
      for (const object of custom) {
        expect(readableObject(name, object, 'custom'), object).toBe(true);
        await expectFirstPage(object);
      }
    });
});
