import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';

const seedPath = path.resolve(import.meta.dirname, '../../../shared/seeds/001_supaglue_mgmt_v2.openapi.json');
const bundledPath = path.resolve(import.meta.dirname, '../../src/api/mgmt-v2/mgmt-v2.openapi.json');
const spec = JSON.parse(fs.readFileSync(fs.existsSync(seedPath) ? seedPath : bundledPath, 'utf8'));
const ajv = new Ajv2020({ strict: false });
ajv.addSchema(spec, 'seed');

/** A validator for a webhook's payload as the seed spec (or, without it, the bundled copy) defines it. */
export function webhookSchema(type: string) {
  return ajv.compile({ $ref: `seed#/webhooks/${type}/post/requestBody/content/application~1json/schema` });
}
