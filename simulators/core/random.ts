/** A small seeded PRNG (mulberry32): the same seed gives the same data and the same faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable pseudo-random number in [0, 1) for (seed, index): record i is the same every time. */
export function hashUnit(seed: number, index: number): number {
  return seededRandom((seed * 2654435761) ^ (index * 40503))();
}

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Linus',
  'Margaret',
  'Dennis',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Torvalds',
  'Hamilton',
  'Ritchie',
];
const COMPANY = [
  'Initech',
  'Globex',
  'Umbrella',
  'Hooli',
  'Vandelay',
  'Stark',
  'Wayne',
  'Acme',
  'Soylent',
  'Tyrell',
  'Wonka',
  'Cyberdyne',
];
const INDUSTRY = ['SOFTWARE', 'RETAIL', 'FINANCE', 'HEALTHCARE', 'MANUFACTURING', 'EDUCATION'];

/** Item of `list` for (seed, index), the same every time; `salt` keeps picks of one record apart. */
export const pick = <T>(list: readonly T[], seed: number, index: number, salt: number): T =>
  list[Math.floor(hashUnit(seed + salt, index) * list.length)]!;

/** Deterministic, realistic-looking person and company attributes for record `index`. */
export function fakePerson(seed: number, index: number) {
  const first = pick(FIRST, seed, index, 1);
  const last = pick(LAST, seed, index, 2);
  const company = pick(COMPANY, seed, index, 3);
  return {
    firstName: first,
    lastName: last,
    email: `${first}.${last}.${index}@${company.toLowerCase()}.example`.toLowerCase(),
    phone: `+1-555-${String(1000 + (index % 9000)).padStart(4, '0')}`,
    company,
    title: pick(['CEO', 'CTO', 'VP Sales', 'Engineer', 'Account Executive', 'Designer'], seed, index, 4),
  };
}

export function fakeCompany(seed: number, index: number) {
  const name = `${pick(COMPANY, seed, index, 5)} ${pick(['Inc', 'LLC', 'GmbH', 'Ltd', 'Corp'], seed, index, 6)} ${index}`;
  return {
    name,
    domain: `${name.split(' ')[0]!.toLowerCase()}${index}.example`,
    industry: pick(INDUSTRY, seed, index, 7),
    employees: 1 + Math.floor(hashUnit(seed + 8, index) * 5000),
    city: pick(['Berlin', 'Austin', 'Lyon', 'Osaka', 'Toronto', 'Lagos'], seed, index, 9),
  };
}

export function fakeDeal(seed: number, index: number) {
  return {
    name: `${pick(COMPANY, seed, index, 10)} renewal ${index}`,
    amount: Math.round(hashUnit(seed + 11, index) * 100_000),
    stage: pick(
      ['appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'closedwon', 'closedlost'],
      seed,
      index,
      12,
    ),
  };
}

/** A postal address for record `index`; about one record in five has none (every part null). */
export function fakeAddress(seed: number, index: number) {
  if (hashUnit(seed + 13, index) < 0.2)
    return { street: null, city: null, state: null, postalCode: null, country: null };
  const [city, state, country] = pick(
    [
      ['Austin', 'TX', 'United States'],
      ['Toronto', 'ON', 'Canada'],
      ['Berlin', 'BE', 'Germany'],
      ['Lyon', 'ARA', 'France'],
      ['Osaka', 'Osaka', 'Japan'],
    ] as const,
    seed,
    index,
    14,
  );
  return {
    street: `${10 + (index % 890)} ${pick(['Main St', 'Market St', 'Elm Ave', 'Harbour Rd'], seed, index, 15)}`,
    city,
    state,
    postalCode: String(10_000 + Math.floor(hashUnit(seed + 16, index) * 89_999)),
    country,
  };
}
