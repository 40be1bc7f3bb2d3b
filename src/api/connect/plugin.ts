import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  ConnectFailure,
  completeOAuth,
  describeLink,
  startOAuth,
  submitLinkCredentials,
  withOutcome,
} from '../../core/connect.ts';
import type { CoreDeps } from '../../core/deps.ts';
import { DomainError } from '../../core/errors.ts';
import { linkPage, messagePage } from './pages.ts';

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

/**
 * The hosted connect flow for end customers (no API key: a link's unguessable id is its
 * capability): magic link pages, the OAuth redirect and callback, and credential forms.
 */
export async function connectPages(app: FastifyInstance, { deps }: { deps: CoreDeps }) {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addHook('onSend', async (_req, reply) => {
    // Pages with a customer's data and forms are neither cached nor framed.
    reply
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer');
  });

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(body);

  const failure = (reply: FastifyReply, err: unknown) => {
    if (err instanceof ConnectFailure) {
      if (err.returnUrl)
        return reply.redirect(withOutcome(err.returnUrl, { result: 'error', error: err.message }), 302);
      return html(reply, 400, messagePage('Could not connect', err.message));
    }
    if (err instanceof DomainError && err.status < 500) {
      return html(reply, err.status, messagePage('Could not connect', err.message));
    }
    throw err;
  };

  app.get<{ Params: { id: string } }>('/links/:id', async (req, reply) => {
    const link = await describeLink(deps, req.params.id);
    const status = link?.status ?? 'not_found';
    if (status !== 'valid')
      return html(reply, status === 'not_found' ? 404 : 410, messagePage(TITLES[status]!, MESSAGES[status]!));
    return html(reply, 200, linkPage(link!));
  });

  app.post<{ Params: { id: string }; Body: Record<string, string> | undefined }>(
    '/links/:id/oauth',
    async (req, reply) => {
      try {
        return reply.redirect(
          await startOAuth(deps, req.params.id, { sandbox: req.body?.sandbox === 'true' }),
          303,
        );
      } catch (err) {
        return failure(reply, err);
      }
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, string> | undefined }>(
    '/links/:id/credentials',
    async (req, reply) => {
      try {
        return reply.redirect(await submitLinkCredentials(deps, req.params.id, req.body ?? {}), 303);
      } catch (err) {
        if (err instanceof DomainError && err.kind === 'unprocessable') {
          const link = await describeLink(deps, req.params.id);
          if (link?.status === 'valid') return html(reply, 422, linkPage(link, err.message));
        }
        return failure(reply, err);
      }
    },
  );

  app.get<{ Querystring: Record<string, string> }>('/oauth/callback', async (req, reply) => {
    try {
      return reply.redirect(await completeOAuth(deps, req.query), 302);
    } catch (err) {
      return failure(reply, err);
    }
  });
}
