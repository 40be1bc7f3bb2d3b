/**
 * The developer's data models as values: schemas (per-object field lists) and entities
 * (provider-independent models), each a name plus a field list, and how provider fields are
 * mapped onto them. Kept apart from the services so that the sync planner can read them.
 */

export interface DataModelField {
  name: string;
  /** The provider field it is read from, fixed by the developer for every customer. */
  providerField?: string;
}

export interface DataModel {
  id: string;
  projectId: string;
  name: string;
  fields: DataModelField[];
  /** Whether mappings may add fields the model does not list. */
  allowsAdditionalFields: boolean;
}

export type DataModelInput = Pick<DataModel, 'name' | 'fields' | 'allowsAdditionalFields'>;

/** One model field read from one provider field, as a customer or the developer maps it. */
export interface FieldMapping {
  field: string;
  providerField?: string;
}

/** Which provider object an entity is read from and, field by field, how. */
export interface EntityMapping {
  entityId: string;
  object?: { kind: 'standard' | 'custom'; name: string };
  fields?: FieldMapping[];
}
