import { CRM_MODELS } from './crm.ts';
import { ENGAGEMENT_MODELS } from './engagement.ts';
import type { CommonModel } from './model.ts';

export type { CommonModel, ModelColumn, ModelMapping, SqlType, UnifiedBase } from './model.ts';
export { modelColumns, unifiedRecord } from './model.ts';

const MODELS: Record<string, Readonly<Record<string, CommonModel>>> = {
  crm: CRM_MODELS as Readonly<Record<string, CommonModel>>,
  engagement: ENGAGEMENT_MODELS as Readonly<Record<string, CommonModel>>,
};

/** A category's common model by its name in a sync config, or undefined. */
export function commonModel(category: string, name: string): CommonModel | undefined {
  const models = MODELS[category];
  return models && Object.hasOwn(models, name) ? models[name] : undefined;
}

/** The names of a category's common models. */
export function commonModelNames(category: string): string[] {
  return Object.keys(MODELS[category] ?? {});
}
