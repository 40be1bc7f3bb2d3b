import { describe, expect, it } from 'vitest';
import { type FieldSelection, fieldPlanOf } from '../../src/core/read-plan.ts';
import { recordShape } from '../../src/core/record-fields.ts';

const selection: FieldSelection = {
  required: ['Email', 'FirstName'],
  optional: ['Phone', 'Title'],
  mappings: [
    { name: 'givenName', field: 'FirstName' },
    { name: 'jobTitle', field: 'Title' },
    { name: 'familyName' },
  ],
};

describe('which fields a sync delivers', () => {
  it('the required ones, the optional ones chosen, and the fields behind mapped names, in lower case', () => {
    expect(
      fieldPlanOf(selection, {
        selectedFields: ['PHONE', 'Department'],
        fieldMappings: { familyName: 'LastName', unknownName: 'Fax' },
      }),
    ).toEqual({
      // Department is not offered and unknownName is not a name the selection maps.
      select: ['email', 'firstname', 'phone', 'lastname'],
      // jobTitle maps an optional field that was not chosen.
      map: { givenName: 'firstname', familyName: 'lastname' },
    });
  });

  it('any field chosen when every field is optional; every field when the selection lists none', () => {
    expect(
      fieldPlanOf({ required: ['email'], optional: [], allOptional: true }, { selectedFields: ['fax'] }),
    ).toEqual({ select: ['email', 'fax'], map: {} });
    expect(fieldPlanOf({ required: [], optional: [] })).toBeUndefined();
    expect(
      fieldPlanOf({ required: [], optional: [], mappings: [{ name: 'n' }] }, { fieldMappings: { n: 'x' } }),
    ).toEqual({ map: { n: 'x' } });
  });
});

describe('a record as its destination sees it', () => {
  it('HubSpot fields come from `properties`; Salesforce’s `attributes` is not a field', () => {
    const hubspot = recordShape('hubspot', { select: ['email'], map: { mail: 'email' } });
    const contact = { id: '1', properties: { email: 'a@b.c', firstname: 'A' }, archived: false };
    expect(hubspot(contact).fields()).toEqual({ email: 'a@b.c' });
    expect(hubspot(contact).mapped).toEqual({ mail: 'a@b.c' });
    // HubSpot's owners carry their fields at the top level.
    expect(recordShape('hubspot', undefined)({ id: '7', email: 'o@b.c' }).fields()).toEqual({
      id: '7',
      email: 'o@b.c',
    });

    const salesforce = recordShape('salesforce', undefined);
    const record = { attributes: { type: 'Contact' }, Id: '003', Email: 'x@y.z' };
    expect(salesforce(record).fields()).toEqual({ id: '003', email: 'x@y.z' });
    expect(salesforce(record).mapped).toEqual({});
  });
});
