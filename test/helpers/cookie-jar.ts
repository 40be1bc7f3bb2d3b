/** One `Set-Cookie` line taken apart: attribute names lower-cased, flags as `true`. */
export function parseSetCookie(line: string): {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
} {
  const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const attr of attrs) {
    const at = attr.indexOf('=');
    if (at < 0) attributes[attr.toLowerCase()] = true;
    else attributes[attr.slice(0, at).toLowerCase()] = attr.slice(at + 1);
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes };
}

/**
 * The cookies one browser keeps for one site, for tests that drive pages with plain `fetch` (which
 * keeps none): stored from `Set-Cookie`, dropped at `Max-Age=0`, sent where their `Path` matches.
 */
export class CookieJar {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  /** `fetch` as this browser: its cookies go along, and the answer's are kept. */
  async fetch(url: URL | string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers });
    this.take(res);
    return res;
  }

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const { name, value, attributes } = parseSetCookie(line);
      if (attributes['max-age'] === '0') this.#cookies.delete(name);
      else this.#cookies.set(name, { value, path: String(attributes.path ?? '/') });
    }
  }

  /** The value of the cookie `name`, if this browser holds it. */
  get(name: string): string | undefined {
    return this.#cookies.get(name)?.value;
  }

  /** The `Cookie` header this browser sends to `url`, if any. */
  header(url: URL | string): string | undefined {
    const path = new URL(url).pathname;
    const sent = [...this.#cookies]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map(([name, c]) => `${name}=${c.value}`);
    return sent.length > 0 ? sent.join('; ') : undefined;
  }

  get size(): number {
    return this.#cookies.size;
  }
}
