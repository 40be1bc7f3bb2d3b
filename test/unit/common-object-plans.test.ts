import { describe, expect, it } from 'vitest';
import { withCommonObjects } from '../../src/core/common-object-plans.ts';
import type { PlannedSync } from '../../src/core/read-plan.ts';

const policy = { schedule: { everyMs: 3_600_000 }, mode: 'incremental' as const };
const planned = (kind: PlannedSync['kind'], object: string, associations?: string[]): PlannedSync => ({
  kind,
  object,
  plan: { policy, destinationId: 'd', ...(associations ? { associations } : {}) },
});

describe('common object plans', () => {
  it("a common sync reads its provider's object into the model's table, with the associations its mapping needs", () => {
    const [contact, user, standard] = withCommonObjects('hubspot', [
      planned('common', 'contact', ['opportunity', 'companies']),
      planned('common', 'user'),
      planned('standard', 'contacts', ['deals']),
    ]);
    expect(contact!.plan).toEqual({
      policy,
      destinationId: 'd',
      reads: { kind: 'standard', object: 'contacts' },
      defaultTable: 'crm_contacts',
      associations: ['companies', 'opportunity'],
    });
    expect(user!.plan).toEqual({
      policy,
      destinationId: 'd',
      reads: { kind: 'standard', object: 'owners' },
      defaultTable: 'crm_users',
    });
    expect(standard).toEqual(planned('standard', 'contacts', ['deals']));
  });

  it('a common object the provider does not map keeps its plan (its runs say why they cannot run)', () => {
    const lead = planned('common', 'lead');
    expect(withCommonObjects('hubspot', [lead])).toEqual([lead]);
    expect(withCommonObjects('zoho_crm', [planned('common', 'contact')])).toEqual([
      planned('common', 'contact'),
    ]);
  });

  it('engagement objects map to the engagement tables', () => {
    const [state] = withCommonObjects('apollo', [planned('common', 'sequence_state')]);
    expect(state!.plan).toMatchObject({
      reads: { object: 'contacts' },
      defaultTable: 'engagement_sequence_states',
    });
  });
});
