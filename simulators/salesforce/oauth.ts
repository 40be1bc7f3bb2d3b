import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, consentPage, tokenRequest } from '../core/server.ts';
import { type IssuedTokens, OAuthError } from '../core/tokens.ts';
import { DAY, idUrl, type OrgState } from './org.ts';
import { id15Of, ORG_ID, sfDateTime, USER, USER_ID } from './schema.ts';

/**
 * OAuth 2.0 web server flow (login.salesforce.com and test.salesforce.com share the simulator's
 * origin), token revocation, the identity URL and userinfo.
 */
export function registerOAuthRoutes(app: FastifyInstance, { ctx, startedAt }: OrgState) {
  app.get('/services/oauth2/authorize', async (req, reply) => consentPage(ctx, req, reply, 'Salesforce'));

  app.post('/services/oauth2/token', async (req, reply) => {
    const f = tokenRequest(req);
    const fail = (error: string, description: string) =>
      reply.code(400).send({ error, error_description: description });
    if (f.grant_type !== 'authorization_code' && f.grant_type !== 'refresh_token') {
      return fail('unsupported_grant_type', 'grant type not supported');
    }
    if (!f.client_id || !ctx.tokens.clients.has(f.client_id)) {
      return fail('invalid_client_id', 'client identifier invalid');
    }
    if (ctx.tokens.clients.get(f.client_id) !== f.client_secret) {
      return fail('invalid_client', 'invalid client credentials');
    }
    let tokens: IssuedTokens;
    try {
      if (f.grant_type === 'authorization_code') {
        if (!f.code) return fail('invalid_grant', 'authentication failure');
        tokens = ctx.tokens.exchangeCode({
          code: f.code,
          clientId: f.client_id,
          redirectUri: f.redirect_uri,
          codeVerifier: f.code_verifier,
        });
      } else {
        if (!f.refresh_token) return fail('invalid_grant', 'expired access/refresh token');
        tokens = ctx.tokens.refresh({ refreshToken: f.refresh_token, clientId: f.client_id });
      }
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      if (err.description.startsWith('redirect_uri')) {
        return fail('redirect_uri_mismatch', 'redirect_uri must match configuration');
      }
      if (err.description.includes('code_verifier')) return fail('invalid_grant', 'invalid code verifier');
      if (f.grant_type === 'refresh_token') return fail('invalid_grant', 'expired access/refresh token');
      return fail('invalid_grant', 'authentication failure');
    }
    const body = ctx.provider.tokenResponse(ctx, tokens);
    // A refresh answers only an access token, unless the connected app rotates refresh tokens.
    if (f.grant_type === 'refresh_token' && !ctx.faults.current.rotate_refresh_tokens)
      delete body.refresh_token;
    return reply.header('cache-control', 'no-cache, no-store').send(body);
  });

  const revoke = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = tokenRequest(req).token ?? (req.query as Record<string, string | undefined>).token ?? '';
    if (ctx.tokens.revokeRefreshToken(token) || ctx.tokens.infoFor(token)) return reply.code(200).send();
    return reply
      .code(400)
      .send({ error: 'unsupported_token_type', error_description: 'this token type is not supported' });
  };
  app.post('/services/oauth2/revoke', revoke);
  app.get('/services/oauth2/revoke', revoke);

  const identity = () => {
    const base = ctx.url;
    const org15 = ORG_ID.slice(0, 15);
    const urls = {
      enterprise: `${base}/services/Soap/c/{version}/${org15}`,
      metadata: `${base}/services/Soap/m/{version}/${org15}`,
      partner: `${base}/services/Soap/u/{version}/${org15}`,
      rest: `${base}/services/data/v{version}/`,
      sobjects: `${base}/services/data/v{version}/sobjects/`,
      search: `${base}/services/data/v{version}/search/`,
      query: `${base}/services/data/v{version}/query/`,
      recent: `${base}/services/data/v{version}/recent/`,
      tooling_soap: `${base}/services/Soap/T/{version}/${org15}`,
      tooling_rest: `${base}/services/data/v{version}/tooling/`,
      profile: `${base}/${USER_ID}`,
      feeds: `${base}/services/data/v{version}/chatter/feeds`,
      groups: `${base}/services/data/v{version}/chatter/groups`,
      users: `${base}/services/data/v{version}/chatter/users`,
      feed_items: `${base}/services/data/v{version}/chatter/feed-items`,
      custom_domain: base,
    };
    return { urls, updated: sfDateTime(startedAt - 30 * DAY) };
  };
  const identityToken = (req: FastifyRequest) =>
    bearer(req) ?? (req.query as Record<string, string | undefined>).oauth_token;

  app.get<{ Params: { orgId: string; userId: string } }>('/id/:orgId/:userId', async (req, reply) => {
    if (ctx.tokens.check(identityToken(req)) !== 'ok') {
      return reply.code(403).type('text/plain').send('Bad_OAuth_Token');
    }
    if (
      id15Of(req.params.orgId) !== ORG_ID.slice(0, 15) ||
      id15Of(req.params.userId) !== USER_ID.slice(0, 15)
    ) {
      return reply.code(403).type('text/plain').send('Bad_Id');
    }
    const { urls, updated } = identity();
    return {
      id: idUrl(ctx),
      asserted_user: true,
      user_id: USER_ID,
      organization_id: ORG_ID,
      username: USER.username,
      nick_name: 'sim.admin',
      display_name: `${USER.firstName} ${USER.lastName}`,
      email: USER.email,
      email_verified: true,
      first_name: USER.firstName,
      last_name: USER.lastName,
      timezone: 'America/Los_Angeles',
      photos: { picture: `${ctx.url}/profilephoto/005/F`, thumbnail: `${ctx.url}/profilephoto/005/T` },
      addr_street: null,
      addr_city: null,
      addr_state: null,
      addr_country: 'US',
      addr_zip: null,
      mobile_phone: null,
      mobile_phone_verified: false,
      is_lightning_login_user: false,
      status: { created_date: null, body: null },
      urls,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: -28_800_000,
      last_modified_date: updated,
      is_app_installed: true,
    };
  });

  const userinfo = async (req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.tokens.check(identityToken(req)) !== 'ok') {
      return reply.code(403).type('text/plain').send('Bad_OAuth_Token');
    }
    const { urls, updated } = identity();
    return {
      sub: idUrl(ctx),
      user_id: USER_ID,
      organization_id: ORG_ID,
      preferred_username: USER.username,
      nickname: 'sim.admin',
      name: `${USER.firstName} ${USER.lastName}`,
      email: USER.email,
      email_verified: true,
      given_name: USER.firstName,
      family_name: USER.lastName,
      zoneinfo: 'America/Los_Angeles',
      photos: { picture: `${ctx.url}/profilephoto/005/F`, thumbnail: `${ctx.url}/profilephoto/005/T` },
      profile: `${ctx.url}/${USER_ID}`,
      picture: `${ctx.url}/profilephoto/005/F`,
      address: { country: 'US' },
      is_salesforce_integration_user: false,
      urls,
      active: true,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_US',
      utcOffset: -28_800_000,
      updated_at: updated.replace('.000+0000', 'Z'),
      is_app_installed: true,
    };
  };
  app.get('/services/oauth2/userinfo', userinfo);
  app.post('/services/oauth2/userinfo', userinfo);
}
