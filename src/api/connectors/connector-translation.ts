import { randomUUID } from 'node:crypto';
import type { AuthType, Category, ProviderDefinition } from '../../connectors/catalog.ts';
import type { FieldDescription } from '../../connectors/types.ts';
import type {
  NewProjectOwnedConnection,
  ProjectOwnedConnection,
  ProjectOwnedConnectionChanges,
  SettingInput,
} from '../../core/project-owned-connections.ts';
import {
  type AuthScheme,
  connectableProvider,
  defaultRateLimit,
  providerObjectAccess,
  type RateLimit,
} from '../../core/provider-catalog.ts';
import { RequestRefused } from '../surface/errors.ts';

/**
 * Connectors as this API shows them, and its request bodies as the core's project-owned
 * connections. A connector is a connection the project owns; its variables are the connection's
 * settings (the credentials of its authentication implementation among them); its system is the
 * provider and its authentication implementation the provider's auth scheme. What the core keeps
 * no word for (time zone, date format, pool, session, certificate, each variable's id, lock and
 * pivot) is the connection's source document.
 */

export type RateLimitUnit = 'second' | 'minute' | 'hour' | 'day';

const UNIT_SECONDS: Record<RateLimitUnit, number> = { second: 1, minute: 60, hour: 3600, day: 86_400 };

interface Pivot {
  alias?: string | null;
  configurable?: boolean;
  required?: boolean;
  advanced?: boolean;
}

export interface VariableBody {
  id?: string;
  key: string;
  value?: string | null;
  label?: string;
  secret?: boolean;
  locked?: boolean;
  pivot?: Pivot;
}

export interface StoreBody {
  name: string;
  authentication_implementation_id: string;
  timezone: string;
  date_format: string;
  rate_limit_unit: RateLimitUnit;
  rate_limit_duration: number;
  connection_pool_id?: number | null;
  variables?: VariableBody[];
  session_id?: string | null;
  platform_app_key?: string;
  certificate_id?: string | null;
}

export type UpdateBody = Partial<Omit<StoreBody, 'session_id' | 'platform_app_key' | 'certificate_id'>> & {
  type?: string;
};

/** What this API keeps with a connector beyond what the core knows of it. */
interface VariableSource {
  id: string;
  locked: boolean;
  pivot: Required<Pivot>;
  created_at: string;
  updated_at: string;
}

interface ConnectorSource {
  timezone: string;
  date_format: string;
  connection_pool_id: number | null;
  session_id: string | null;
  platform_app_key: string | null;
  certificate_id: string | null;
  type: string | null;
  /** By variable key. */
  variables: Record<string, VariableSource>;
}

/** A time as Laravel serializes it: ISO 8601 in UTC with microseconds. */
export const laravelTime = (t: Date) => t.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function invalid(field: string, detail: string): RequestRefused {
  return new RequestRefused('invalid_input', `body/${field} ${detail}`, {
    issues: [{ in: 'body', name: `/${field.replaceAll('.', '/')}`, detail }],
  });
}

function checkTimezone(timezone: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return timezone;
  } catch {
    throw invalid('timezone', 'must be a valid time zone (an IANA name such as Europe/London)');
  }
}

const rateLimitOf = (unit: RateLimitUnit, duration: number): RateLimit => ({
  requests: duration,
  periodSeconds: UNIT_SECONDS[unit],
});

function rateLimitWire(rateLimit: RateLimit): {
  rate_limit_unit: RateLimitUnit;
  rate_limit_duration: number;
} {
  const unit = (Object.keys(UNIT_SECONDS) as RateLimitUnit[]).find(
    (u) => UNIT_SECONDS[u] === rateLimit.periodSeconds,
  );
  return unit
    ? { rate_limit_unit: unit, rate_limit_duration: rateLimit.requests }
    : // A pace set elsewhere in other units reads as its rate per day, rounded down.
      {
        rate_limit_unit: 'day',
        rate_limit_duration: Math.floor((rateLimit.requests * UNIT_SECONDS.day) / rateLimit.periodSeconds),
      };
}

const sourceOf = (c: ProjectOwnedConnection) => c.source as unknown as ConnectorSource;

/**
 * The variables of a body as settings, and what this API keeps of each. A variable named by `id`
 * is the saved one with that id; an id this connector does not have is refused.
 */
function variablesOf(
  variables: VariableBody[],
  saved: ConnectorSource['variables'],
  now: string,
): { settings: SettingInput[]; kept: ConnectorSource['variables'] } {
  const keyOfId = new Map(Object.entries(saved).map(([key, v]) => [v.id, key]));
  const kept: ConnectorSource['variables'] = {};
  const settings = variables.map((v, i): SettingInput => {
    if (v.id !== undefined && !keyOfId.has(v.id))
      throw invalid(`variables.${i}.id`, 'is not a variable of this connector');
    const before = saved[v.key];
    kept[v.key] = {
      id: before?.id ?? randomUUID(),
      locked: v.locked ?? before?.locked ?? false,
      pivot: {
        alias: v.pivot?.alias ?? before?.pivot.alias ?? null,
        configurable: v.pivot?.configurable ?? before?.pivot.configurable ?? true,
        required: v.pivot?.required ?? before?.pivot.required ?? false,
        advanced: v.pivot?.advanced ?? before?.pivot.advanced ?? false,
      },
      created_at: before?.created_at ?? now,
      updated_at: now,
    };
    return {
      key: v.key,
      ...(v.label === undefined ? {} : { label: v.label }),
      ...(v.secret === undefined ? {} : { secret: v.secret }),
      ...(v.value === undefined ? {} : { value: v.value }),
    };
  });
  return { settings, kept };
}

export function newConnectionOf(body: StoreBody): NewProjectOwnedConnection {
  const now = laravelTime(new Date());
  const { settings, kept } = variablesOf(body.variables ?? [], {}, now);
  const source: ConnectorSource = {
    timezone: checkTimezone(body.timezone),
    date_format: body.date_format,
    connection_pool_id: body.connection_pool_id ?? null,
    session_id: body.session_id ?? null,
    platform_app_key: body.platform_app_key ?? null,
    certificate_id: body.certificate_id ?? null,
    type: null,
    variables: kept,
  };
  return {
    name: body.name,
    authSchemeId: body.authentication_implementation_id,
    rateLimit: rateLimitOf(body.rate_limit_unit, body.rate_limit_duration),
    settings,
    source: source as unknown as Record<string, unknown>,
  };
}

export function changesOf(current: ProjectOwnedConnection, body: UpdateBody): ProjectOwnedConnectionChanges {
  const before = sourceOf(current);
  const variables = body.variables && variablesOf(body.variables, before.variables, laravelTime(new Date()));
  const unit = body.rate_limit_unit;
  const duration = body.rate_limit_duration;
  const currentRate = current.rateLimit && rateLimitWire(current.rateLimit);
  const source: ConnectorSource = {
    timezone: body.timezone === undefined ? before.timezone : checkTimezone(body.timezone),
    date_format: body.date_format ?? before.date_format,
    connection_pool_id:
      body.connection_pool_id === undefined ? before.connection_pool_id : body.connection_pool_id,
    session_id: before.session_id,
    platform_app_key: before.platform_app_key,
    certificate_id: before.certificate_id,
    type: body.type ?? before.type,
    variables: variables?.kept ?? before.variables,
  };
  return {
    ...(body.name === undefined ? {} : { name: body.name }),
    ...(body.authentication_implementation_id === undefined
      ? {}
      : { authSchemeId: body.authentication_implementation_id }),
    ...(unit === undefined && duration === undefined
      ? {}
      : {
          rateLimit: rateLimitOf(
            unit ?? currentRate?.rate_limit_unit ?? 'second',
            duration ?? currentRate?.rate_limit_duration ?? 1,
          ),
        }),
    ...(variables ? { settings: variables.settings } : {}),
    source: source as unknown as Record<string, unknown>,
  };
}

// What a connector shows, include by include.

const CATEGORY_NAMES: Record<Category, string> = {
  crm: 'CRM',
  engagement: 'Engagement',
  enrichment: 'Enrichment',
  marketing_automation: 'Marketing automation',
  no_category: 'Other',
};

const AUTH_TYPE_NAMES: Record<AuthType, string> = {
  oauth2: 'OAuth 2.0',
  api_key: 'API key',
  access_key_secret: 'Access key and secret',
};

/** What a connector's includes need besides the connector. */
export interface IncludeContext {
  includes: ReadonlySet<string>;
  /** Where this API is served from, for logo URLs. */
  baseUrl: string;
  /** The fields of one of the provider's objects on this connector's connection (a provider call); null if not described. */
  describe(object: string): Promise<FieldDescription[] | null>;
}

const logoUrl = (baseUrl: string, p: ProviderDefinition) => `${baseUrl}/logos/${p.name}.svg`;

function system(p: ProviderDefinition, ctx: IncludeContext, at: string) {
  const has = (relation: string) => ctx.includes.has(`${at}.${relation}`);
  return {
    id: p.name,
    name: p.name,
    label: p.displayName,
    system_template_id: p.name,
    system_type_id: p.category,
    protocol: 'HTTP',
    ...rateLimitWire(defaultRateLimit(p)),
    logo_url: logoUrl(ctx.baseUrl, p),
    help_link: null,
    ...(has('logo')
      ? { logo: { id: p.name, url: logoUrl(ctx.baseUrl, p), mime_type: 'image/svg+xml' } }
      : {}),
    ...(has('systemType') ? { system_type: { id: p.category, name: CATEGORY_NAMES[p.category] } } : {}),
  };
}

/** An endpoint's schema: its object's fields; null where the connector does not describe the object. */
function endpointSchema(endpointId: string, fields: FieldDescription[] | null) {
  return (
    fields && {
      id: `${endpointId}:schema`,
      endpoint_id: endpointId,
      fields: fields.map((f) => ({ name: f.name, label: f.label, type: f.type, read_only: f.readOnly })),
    }
  );
}

async function endpoints(p: ProviderDefinition, ctx: IncludeContext) {
  const at = 'authenticationImplementation.endpoints';
  const has = (relation: string) => ctx.includes.has(`${at}.${relation}`);
  const fields = new Map<string, Promise<FieldDescription[] | null>>();
  const fieldsOf = (object: string) => {
    if (!fields.has(object)) fields.set(object, ctx.describe(object));
    return fields.get(object)!;
  };
  return Promise.all(
    providerObjectAccess(p).map(async ({ object, direction }) => {
      const id = `${p.name}:${object}:${direction === 'read' ? 'receive' : 'send'}`;
      const entityTypeId = `${p.name}:${object}`;
      return {
        id,
        name: object,
        label: `${direction === 'read' ? 'Receive' : 'Send'} ${object}`,
        system_id: p.name,
        entity_type_id: entityTypeId,
        direction: direction === 'read' ? 'Receive' : 'Send',
        returns_multiple_records: direction === 'read',
        data_type: 'json',
        // Trellis's endpoints take no filters or variables of their own, and tag no fields.
        ...(has('filters') ? { filters: [] } : {}),
        ...(has('endpointSchema') ? { endpoint_schema: endpointSchema(id, await fieldsOf(object)) } : {}),
        ...(has('system') ? { system: system(p, ctx, `${at}.system`) } : {}),
        ...(has('entityType') ? { entity_type: { id: entityTypeId, name: object } } : {}),
        ...(has('fieldTags') ? { field_tags: [] } : {}),
        ...(has('variables') ? { variables: [] } : {}),
      };
    }),
  );
}

async function authenticationImplementation(scheme: AuthScheme, ctx: IncludeContext) {
  const at = 'authenticationImplementation';
  const has = (relation: string) => ctx.includes.has(`${at}.${relation}`);
  const p = connectableProvider(scheme.providerName)!;
  return {
    id: scheme.id,
    name: `${p.displayName} ${AUTH_TYPE_NAMES[scheme.authType]}`,
    system_id: p.name,
    authentication_type_id: scheme.authType,
    ...(has('authenticationType')
      ? { authentication_type: { id: scheme.authType, name: AUTH_TYPE_NAMES[scheme.authType] } }
      : {}),
    ...(has('system') ? { system: system(p, ctx, `${at}.system`) } : {}),
    ...(has('endpoints') ? { endpoints: await endpoints(p, ctx) } : {}),
  };
}

function variables(c: ProjectOwnedConnection) {
  const kept = sourceOf(c).variables;
  return c.settings.map((s) => {
    const meta = kept[s.key];
    const time = laravelTime(c.updatedAt);
    return {
      id: meta?.id ?? `${c.id}:${s.key}`,
      key: s.key,
      value: s.secret ? null : s.value,
      label: s.label,
      secret: s.secret,
      locked: meta?.locked ?? false,
      pivot: meta?.pivot ?? { alias: null, configurable: true, required: false, advanced: false },
      created_at: meta?.created_at ?? time,
      updated_at: meta?.updated_at ?? time,
    };
  });
}

/** A connector as this API shows it, with the relations and counts its includes ask for. */
export async function connectorResource(c: ProjectOwnedConnection, ctx: IncludeContext) {
  const has = (include: string) => ctx.includes.has(include);
  const source = sourceOf(c);
  const p = connectableProvider(c.providerName)!;
  return {
    id: c.id,
    name: c.name,
    authentication_implementation_id: c.scheme.id,
    system_id: c.providerName,
    canonical_key: c.providerName,
    timezone: source.timezone,
    date_format: source.date_format,
    ...rateLimitWire(c.rateLimit ?? defaultRateLimit(p)),
    connection_pool_id: source.connection_pool_id,
    session_id: source.session_id,
    platform_app_key: source.platform_app_key,
    certificate_id: source.certificate_id,
    type: source.type,
    status: c.status,
    created_at: laravelTime(c.createdAt),
    updated_at: laravelTime(c.updatedAt),
    ...(has('authenticationImplementation')
      ? { authentication_implementation: await authenticationImplementation(c.scheme, ctx) }
      : {}),
    ...(has('authenticationImplementation_count') ? { authentication_implementation_count: 1 } : {}),
    ...(has('authenticationImplementationExists') ? { authentication_implementation_exists: true } : {}),
    ...(has('variables') ? { variables: variables(c) } : {}),
    ...(has('variables_count') ? { variables_count: c.settings.length } : {}),
    ...(has('variablesExists') ? { variables_exists: c.settings.length > 0 } : {}),
    // Trellis keeps no certificates: `certificate_id` is stored and shown, and names none.
    ...(has('certificate') ? { certificate: null } : {}),
    ...(has('certificate_count') ? { certificate_count: 0 } : {}),
    ...(has('certificateExists') ? { certificate_exists: false } : {}),
  };
}
