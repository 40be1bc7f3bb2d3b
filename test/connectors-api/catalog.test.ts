import { describe, expect, it } from 'vitest';
import {
  allAuthSchemeIds,
  connectableProviders,
  defaultRateLimit,
  findAuthScheme,
  providerLogoSvg,
} from '../../src/core/provider-catalog.ts';

/**
 * What the Connectors API lists from the provider catalog: authentication implementations by ids
 * that clients store (so they never change), and logos Trellis draws itself.
 */

describe('the catalog as the Connectors API lists it', () => {
  it('names authentication implementations by the same ids in every release', () => {
    // Clients keep these in their connectors: a change here breaks them.
    expect(allAuthSchemeIds()).toEqual([
      'apollo:api_key',
      'apollo:oauth2',
      'gong:access_key_secret',
      'gong:oauth2',
      'gong:api_key',
      'hubspot:oauth2',
      'pipedrive:oauth2',
      'salesforce:oauth2',
    ]);
    expect(
      findAuthScheme('gong:access_key_secret')?.settings.map((s) => [s.key, s.secret, s.required]),
    ).toEqual([
      ['access_key', true, true],
      ['access_key_secret', true, true],
    ]);
    expect(findAuthScheme('salesforce:oauth2')?.settings.map((s) => [s.key, s.secret, s.required])).toEqual([
      ['refresh_token', true, true],
      ['instance_url', false, true],
      ['login_url', false, false],
    ]);
    for (const id of [
      'hubspot',
      'hubspot:',
      ':oauth2',
      'hubspot:oauth2:x',
      'zoho_crm:oauth2',
      'hubspot:api_key',
    ])
      expect(findAuthScheme(id), id).toBeUndefined();
  });

  it("draws each provider's logo: its monogram in white on a tile of its own colour", () => {
    const colours = new Set<string>();
    for (const provider of connectableProviders()) {
      const { monogram, background } = provider.logo;
      expect(monogram, provider.name).toMatch(/^[A-Za-z0-9]{1,2}$/);
      expect(background, provider.name).toMatch(/^#[0-9a-f]{6}$/);
      colours.add(background);
      const svg = providerLogoSvg(provider.name)!;
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*<\/svg>$/);
      expect(svg).toContain(`fill="${background}"`);
      expect(svg).toContain(`>${monogram}</text>`);
    }
    expect(colours.size).toBe(connectableProviders().length);
    for (const name of ['zoho_crm', '../hubspot', 'HubSpot', ''])
      expect(providerLogoSvg(name), name).toBeUndefined();
  });

  it("states a provider's default pace in whole requests per second or per minute", () => {
    const byName = Object.fromEntries(connectableProviders().map((p) => [p.name, defaultRateLimit(p)]));
    // 100 per 10 s, 3 per second, 200 a minute.
    expect(byName.hubspot).toEqual({ requests: 10, periodSeconds: 1 });
    expect(byName.gong).toEqual({ requests: 3, periodSeconds: 1 });
    expect(byName.apollo).toEqual({ requests: 200, periodSeconds: 60 });
  });
});
