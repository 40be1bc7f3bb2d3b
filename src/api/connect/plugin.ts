import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { providerUrl } from '../../connectors/catalog.ts';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError } from '../../core/errors.ts';
import { submitLinkCredentials } from '../../core/managed-auth/link-credentials.ts';
import {
  type ConnectErrorCode,
  ConnectFailure,
  describeLink,
  type FlowEnd,
  type LinkView,
  withOutcome,
} from '../../core/managed-auth/links.ts';
import { completeOAuth, STATE_LIFETIME_MS, startOAuth } from '../../core/managed-auth/oauth-flow.ts';
import { claimPopupState, POPUP_START_PATH } from '../../core/managed-auth/popup-flow.ts';
import { httpStatus } from '../surface/errors.ts';
import { CALLBACK_SCHEMA, FORM_BODY_LIMIT, FORM_SCHEMA, refusedInput } from './limits.ts';
import { linkPage, messagePage, pagePolicy, popupEndPage } from './pages.ts';

const TITLES: Record<string, string> = {
  expired: 'This link has expired',
  consumed: 'This link was already used',
  not_found: 'Link not found',
};
const MESSAGES: Record<string, string> = {
  expired: 'Ask the application that sent it for a new link.',
  consumed: 'The account was connected with it already. To connect again, ask for a new link.',
  not_found: 'Check the address, or ask the application that sent it for a new link.',
};

const CALLBACK_PATH = '/oauth/callback';
/** The cookie that binds a flow to its browser, one per state so that flows in two tabs both work. */
const bindingCookieName = (stateId: string) => `trellis_oauth_${stateId}`;

/** The cookies a request carries, by name (the first of a repeated name wins, as browsers order them). */
export function requestCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of header?.split(';') ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim());
  }
  return cookies;
}

/** A query parameter given once; repeated or absent ones are not taken. */
const single = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * The hosted connect flow for end customers (no API key: a link's unguessable id is its
 * capability): magic link pages, the OAuth redirect and callback, credential forms, and the start
 * of a flow a page of the project's product opened in a popup.
 */
export async function connectPages(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  // Read per request: with PORT=0 the public URL is known only once the server listens.
  const secureCookies = () => deps.config.publicUrl.startsWith('https:');
  const bindingCookie = (stateId: string, nonce: string, maxAgeSeconds: number) =>
    `${bindingCookieName(stateId)}=${nonce}; Path=${CALLBACK_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secureCookies() ? '; Secure' : ''}`;

  /** Where a link page's form may lead: back here, then on to the provider or the return URL. */
  const linkFormTargets = (link: LinkView): string[] => {
    const override = deps.config.providerOverrides[link.provider.name];
    const api = link.provider.api;
    const onward =
      link.authType === 'oauth2'
        ? [api?.authorizeUrl, api?.sandboxAuthorizeUrl]
            .filter((t): t is string => t !== undefined)
            .map((t) => new URL(providerUrl(t, { override })).origin)
        : [new URL(link.returnUrl).origin];
    return ["'self'", ...new Set(onward)];
  };

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addHook('onSend', async (_req, reply) => {
    // Pages with a customer's data and forms are neither cached nor framed.
    reply.header('cache-control', 'no-store').header('x-frame-options', 'DENY');
  });

  const html = (reply: FastifyReply, status: number, body: string, formTargets: string[] = []) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', pagePolicy(formTargets))
      .send(body);
  const linkHtml = (reply: FastifyReply, status: number, link: LinkView, error?: string) =>
    html(reply, status, linkPage(link, error), linkFormTargets(link));

  // Input refused before a handler ran (over the limits, not a form) gets a page too, not JSON.
  app.setErrorHandler<FastifyError>((err, req, reply) => {
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
      return html(reply, err.statusCode, messagePage('Could not connect', refusedInput(err)));
    req.log.error({ err }, 'unhandled error');
    return html(reply, 500, messagePage('Something went wrong', 'Try again in a moment.'));
  });

  /** A popup's last page, which tells its opener how the flow ended. */
  const popupEnd = (reply: FastifyReply, ...page: Parameters<typeof popupEndPage>) => {
    const { html: body, policy } = popupEndPage(...page);
    // Its opener must stay reachable: no Cross-Origin-Opener-Policy here.
    return reply
      .code(200)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', policy)
      .send(body);
  };

  /** Reports a failed flow where it ends: at the link's return URL, or to the popup's opener. */
  const reportFailure = (reply: FastifyReply, end: FlowEnd, code: ConnectErrorCode, message: string) =>
    'returnUrl' in end
      ? reply.redirect(withOutcome(end.returnUrl, { result: 'error', error: code }), 302)
      : popupEnd(
          reply,
          end.openerOrigin,
          { eventType: 'AUTHORIZATION_FAILED', data: { error: code, message } },
          'Could not connect',
          message,
        );

  const failure = (reply: FastifyReply, err: unknown) => {
    if (err instanceof ConnectFailure) {
      if (err.back) return reportFailure(reply, err.back.end, err.back.code, err.message);
      return html(reply, 400, messagePage('Could not connect', err.message));
    }
    if (err instanceof DomainError && httpStatus(err) < 500) {
      return html(reply, httpStatus(err), messagePage('Could not connect', err.message));
    }
    throw err;
  };

  app.get<{ Params: { id: string } }>('/links/:id', async (req, reply) => {
    const link = await describeLink(deps, req.params.id);
    const status = link?.status ?? 'not_found';
    if (status !== 'valid')
      return html(reply, status === 'not_found' ? 404 : 410, messagePage(TITLES[status]!, MESSAGES[status]!));
    return linkHtml(reply, 200, link!);
  });

  app.post<{ Params: { id: string }; Body: Record<string, string> | undefined }>(
    '/links/:id/oauth',
    { bodyLimit: FORM_BODY_LIMIT, schema: FORM_SCHEMA },
    async (req, reply) => {
      // Only the link's own page starts a flow: another site cannot make a visitor's browser start
      // one (and so hold the cookie that completes it) for a link of its choosing.
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin')
        return html(
          reply,
          403,
          messagePage(
            'Could not connect',
            'Start from the link page itself: open your link and connect there.',
          ),
        );
      try {
        const flow = await startOAuth(deps, req.params.id, { sandbox: req.body?.sandbox === 'true' });
        return reply
          .header('set-cookie', bindingCookie(flow.stateId, flow.browserNonce, STATE_LIFETIME_MS / 1000))
          .redirect(flow.authorizeUrl, 303);
      } catch (err) {
        return failure(reply, err);
      }
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, string> | undefined }>(
    '/links/:id/credentials',
    { bodyLimit: FORM_BODY_LIMIT, schema: FORM_SCHEMA },
    async (req, reply) => {
      try {
        return reply.redirect(await submitLinkCredentials(deps, req.params.id, req.body ?? {}), 303);
      } catch (err) {
        if (err instanceof DomainError && err.kind === 'unprocessable') {
          const link = await describeLink(deps, req.params.id);
          if (link?.status === 'valid') return linkHtml(reply, 422, link, err.message);
        }
        return failure(reply, err);
      }
    },
  );

  // A popup opens its start URL first: the browser that opens it claims the flow and holds its cookie.
  app.get<{ Querystring: Record<string, unknown> }>(
    POPUP_START_PATH,
    { schema: CALLBACK_SCHEMA },
    async (req, reply) => {
      try {
        const flow = await claimPopupState(deps, single(req.query.state));
        return reply
          .header('set-cookie', bindingCookie(flow.stateId, flow.browserNonce, STATE_LIFETIME_MS / 1000))
          .redirect(flow.authorizeUrl, 303);
      } catch (err) {
        return failure(reply, err);
      }
    },
  );

  app.get<{ Querystring: Record<string, unknown> }>(
    CALLBACK_PATH,
    { schema: CALLBACK_SCHEMA },
    async (req, reply) => {
      const cookies = requestCookies(req.headers.cookie);
      const browserNonce = (stateId: string) => {
        const nonce = cookies.get(bindingCookieName(stateId));
        // Whatever the outcome, this browser's cookie for the state has had its one use.
        if (nonce !== undefined) reply.header('set-cookie', bindingCookie(stateId, '', 0));
        return nonce;
      };
      const query = {
        state: single(req.query.state),
        code: single(req.query.code),
        error: single(req.query.error),
      };
      try {
        const { end, providerName, connectionId } = await completeOAuth(deps, query, browserNonce);
        if ('returnUrl' in end)
          return reply.redirect(
            withOutcome(end.returnUrl, { result: 'success', provider_name: providerName }),
            302,
          );
        return popupEnd(
          reply,
          end.openerOrigin,
          { eventType: 'AUTHORIZATION_SUCCEEDED', data: { connection: connectionId } },
          'Connected',
          'The account is connected. You can close this window.',
        );
      } catch (err) {
        return failure(reply, err);
      }
    },
  );
}
