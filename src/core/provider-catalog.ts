import {
  type AuthType,
  type CredentialSetting,
  credentialSettings,
  type ProviderDefinition,
  type ProviderName,
} from '../connectors/catalog.ts';
import { PROVIDERS } from '../connectors/index.ts';
import { logoSvg } from '../connectors/logo.ts';

/**
 * The provider catalog as surfaces list it: the providers Trellis connects to (a folder each),
 * their auth schemes with the values a connection of each is made with, the objects their
 * connectors read and write, and their logos. All of it is the catalog's data; nothing is stored.
 */

/** A pace of requests: at most `requests` every `periodSeconds`. */
export interface RateLimit {
  requests: number;
  periodSeconds: number;
}

/** One way of connecting to one provider, with the values a connection of it is made with. */
export interface AuthScheme {
  /** `<provider>:<auth type>`, e.g. `hubspot:oauth2`: the same in every release. */
  id: string;
  providerName: ProviderName;
  authType: AuthType;
  settings: CredentialSetting[];
}

/** An object a provider's connector reads (data comes from the provider) or writes (goes to it). */
export interface ProviderObjectAccess {
  object: string;
  direction: 'read' | 'write';
}

const definitions = PROVIDERS.map((p) => p.definition).sort((a, b) => a.name.localeCompare(b.name));

/** The providers Trellis connects to, by name. */
export function connectableProviders(): readonly ProviderDefinition[] {
  return definitions;
}

export function connectableProvider(name: string): ProviderDefinition | undefined {
  return definitions.find((d) => d.name === name);
}

export const authSchemeId = (providerName: string, authType: AuthType) => `${providerName}:${authType}`;

/** A provider's auth schemes, the one its connect page offers first. */
export function authSchemesOf(provider: ProviderDefinition): AuthScheme[] {
  return provider.authTypes.map((authType) => ({
    id: authSchemeId(provider.name, authType),
    providerName: provider.name,
    authType,
    settings: credentialSettings(provider, authType),
  }));
}

export function findAuthScheme(id: string): AuthScheme | undefined {
  const [providerName, authType, ...rest] = id.split(':');
  const provider = rest.length === 0 ? connectableProvider(providerName ?? '') : undefined;
  return provider && authSchemesOf(provider).find((s) => s.authType === authType);
}

/** Every auth scheme of every provider, for messages that list them. */
export function allAuthSchemeIds(): string[] {
  return definitions.flatMap((d) => authSchemesOf(d).map((s) => s.id));
}

/** The objects a provider's connector reads, then those it writes, in the catalog's order. */
export function providerObjectAccess(provider: ProviderDefinition): ProviderObjectAccess[] {
  return [
    ...provider.objects.read.map((object) => ({ object, direction: 'read' as const })),
    ...provider.objects.write.map((object) => ({ object, direction: 'write' as const })),
  ];
}

/**
 * The pace Trellis keeps with a provider unless a connection says otherwise: its documented limit
 * as a rate, per second when that is whole, else per minute.
 */
export function defaultRateLimit(provider: ProviderDefinition): RateLimit {
  const { requests, windowMs } = provider.api.requestLimits.default;
  const perSecond = (requests * 1000) / windowMs;
  return Number.isInteger(perSecond)
    ? { requests: perSecond, periodSeconds: 1 }
    : { requests: Math.floor(perSecond * 60), periodSeconds: 60 };
}

/** A provider's logo as an SVG document, or undefined for a name Trellis does not connect to. */
export function providerLogoSvg(name: string): string | undefined {
  const provider = connectableProvider(name);
  return provider && logoSvg(provider.logo);
}
