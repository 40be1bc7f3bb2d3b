import { createHash } from 'node:crypto';
import type { LinkView } from '../../core/managed-auth/links.ts';

/**
 * The hosted connect pages: plain HTML that works without the project's frontend or any script,
 * but for the end of a popup flow, whose one script tells the page that opened it.
 */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f5f6f8; color: #1d2330; margin: 0; }
  main { max-width: 28rem; margin: 10vh auto; background: #fff; border-radius: .75rem; padding: 2rem;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 1.35rem; margin-top: 0; }
  label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem;
         border: 1px solid #c3c8d0; border-radius: .4rem; }
  button { margin-top: 1.4rem; width: 100%; padding: .75rem; font-size: 1rem; border: 0; border-radius: .4rem;
           background: #2457d6; color: #fff; cursor: pointer; }
  .error { background: #fdecec; color: #8a1c1c; padding: .75rem; border-radius: .4rem; }
  .muted { color: #5b6475; font-size: .9rem; }
`;
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/**
 * The pages' Content-Security-Policy: no script at all, only their own stylesheet (by hash), and
 * forms that lead only to `formTargets` (origins; a form's redirect counts, so the provider's
 * authorize page or the return URL must be among them).
 */
export function pagePolicy(formTargets: string[]): string {
  const formAction = formTargets.length > 0 ? formTargets.join(' ') : "'none'";
  return `default-src 'none'; style-src ${STYLE_HASH}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

/** What a popup posts to the page that opened it: the events Ampersand's UI library listens for. */
export type PopupOutcome =
  | { eventType: 'AUTHORIZATION_SUCCEEDED'; data: { connection: string } }
  /** `error` is Trellis's code; `message` its sentence for a person (older library windows read it). */
  | { eventType: 'AUTHORIZATION_FAILED'; data: { error: string; message: string } };

/** A value as a script literal that cannot end the script element it sits in. */
const scriptLiteral = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/**
 * The page a popup's flow ends on: it posts the outcome to its opener, at the opener's recorded
 * origin only (a page at any other origin receives nothing), then closes. Its policy allows that
 * one script by its hash and nothing else; the text stays for a window that cannot close itself.
 */
export function popupEndPage(
  openerOrigin: string,
  outcome: PopupOutcome,
  title: string,
  message: string,
): { html: string; policy: string } {
  const script = `if (window.opener) window.opener.postMessage(${scriptLiteral(outcome)}, ${scriptLiteral(openerOrigin)});
window.close();`;
  const scriptHash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
  return {
    html: layout(
      title,
      `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><script>${script}</script>`,
    ),
    policy: `default-src 'none'; script-src ${scriptHash}; style-src ${STYLE_HASH}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  };
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>${body}</main></body>
</html>`;
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

/** The page a magic link opens: connect with OAuth, or enter the credentials the provider uses. */
export function linkPage(link: LinkView, error?: string): string {
  const name = escapeHtml(link.provider.displayName);
  const intro = `<h1>Connect ${name}</h1>
<p>Connect the ${name} account of <strong>${escapeHtml(link.customerName)}</strong>.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}`;
  if (link.authType === 'oauth2') {
    const sandbox = link.provider.api?.sandboxAuthorizeUrl
      ? `<label><input type="checkbox" name="sandbox" value="true" id="sandbox"> This is a ${name} sandbox</label>`
      : '';
    return layout(
      `Connect ${link.provider.displayName}`,
      `${intro}<form method="post" action="/links/${link.linkId}/oauth">${sandbox}
<button type="submit" id="connect">Connect ${name}</button></form>
<p class="muted">You will sign in on ${name} and approve access, then come back here.</p>`,
    );
  }
  const fields =
    link.authType === 'api_key'
      ? `<label for="api_key">API key</label><input type="password" id="api_key" name="api_key" autocomplete="off" required>`
      : `<label for="access_key">Access key</label><input type="text" id="access_key" name="access_key" autocomplete="off" required>
<label for="access_key_secret">Access key secret</label><input type="password" id="access_key_secret" name="access_key_secret" autocomplete="off" required>`;
  return layout(
    `Connect ${link.provider.displayName}`,
    `${intro}<form method="post" action="/links/${link.linkId}/credentials">${fields}
<button type="submit" id="connect">Connect ${name}</button></form>
<p class="muted">The credentials are checked with ${name} and stored encrypted.</p>`,
  );
}
