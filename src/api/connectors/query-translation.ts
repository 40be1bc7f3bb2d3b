import { badRequest } from '../../core/errors.ts';

/**
 * The query of this API's connector reads, as spatie/laravel-query-builder reads it: `include`
 * (comma-separated), `filter[<name>]` (comma-separated values, any of which matches), `sort`
 * (`name` or `-name`), `page` and `per_page`. Names it does not offer are refused with a 400 that
 * lists the ones it does.
 */

/** Every include of the seed, in its order. */
export const INCLUDES = [
  'authenticationImplementation',
  'authenticationImplementation_count',
  'authenticationImplementationExists',
  'authenticationImplementation.authenticationType',
  'authenticationImplementation.system',
  'authenticationImplementation.system.logo',
  'authenticationImplementation.endpoints',
  'authenticationImplementation.endpoints.filters',
  'authenticationImplementation.endpoints.endpointSchema',
  'authenticationImplementation.endpoints.system',
  'authenticationImplementation.endpoints.system.logo',
  'authenticationImplementation.endpoints.entityType',
  'authenticationImplementation.endpoints.fieldTags',
  'authenticationImplementation.system.systemType',
  'variables',
  'variables_count',
  'variablesExists',
  'authenticationImplementation.endpoints.variables',
  'certificate',
  'certificate_count',
  'certificateExists',
  'certificate.user',
] as const;

export const FILTERS = [
  'canonical_key',
  'forSystemTemplate',
  'system',
  'system_template_id',
  'forSession',
  'platformSession',
] as const;

export const SORTS = ['name', '-name'] as const;

export type Filter = (typeof FILTERS)[number];

export interface ConnectorQuery {
  /** Every relation path asked for, with the ones a nested include implies (`a.b.c` implies `a` and `a.b`). */
  includes: Set<string>;
  filters: Partial<Record<Filter, string[]>>;
  sort?: (typeof SORTS)[number];
  page: number;
  perPage: number;
}

/** Laravel's paginators' default page size. */
export const DEFAULT_PER_PAGE = 15;

const list = (text: string) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

const refuse = (what: string, unknown: string[], allowed: readonly string[]) =>
  badRequest(
    `${what} ${unknown.map((u) => `\`${u}\``).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not allowed; allowed: ${allowed.join(', ')}`,
  );

/** The query of a request; the contract has already checked `page` and `per_page`. */
export function connectorQueryOf(raw: Record<string, unknown>): ConnectorQuery {
  const text = (name: string) => (typeof raw[name] === 'string' ? (raw[name] as string) : undefined);

  const asked = list(text('include') ?? '');
  const unknownIncludes = asked.filter((i) => !(INCLUDES as readonly string[]).includes(i));
  if (unknownIncludes.length > 0) throw refuse('include', unknownIncludes, INCLUDES);
  const includes = new Set<string>();
  for (const include of asked) {
    const parts = include.split('.');
    for (let n = 1; n <= parts.length; n++) includes.add(parts.slice(0, n).join('.'));
  }

  const filters: ConnectorQuery['filters'] = {};
  const unknownFilters: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name !== 'filter' && !name.startsWith('filter[')) continue;
    const filter = /^filter\[([^\]]*)\]$/.exec(name)?.[1];
    if (filter === undefined || !(FILTERS as readonly string[]).includes(filter)) {
      unknownFilters.push(filter ?? name);
      continue;
    }
    if (typeof value === 'string' && value !== '') filters[filter as Filter] = list(value);
  }
  if (unknownFilters.length > 0) throw refuse('filter', unknownFilters, FILTERS);

  const sort = text('sort');
  if (sort !== undefined && sort !== '' && !(SORTS as readonly string[]).includes(sort))
    throw refuse('sort', [sort], SORTS);

  return {
    includes,
    filters,
    ...(sort ? { sort: sort as ConnectorQuery['sort'] } : {}),
    page: typeof raw.page === 'string' && raw.page !== '' ? Number(raw.page) : 1,
    perPage:
      typeof raw.per_page === 'string' && raw.per_page !== '' ? Number(raw.per_page) : DEFAULT_PER_PAGE,
  };
}
