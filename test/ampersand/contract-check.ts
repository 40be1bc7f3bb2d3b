import { expect } from 'vitest';
import { expectProblem, platformSchemas } from '../helpers/ampersand.ts';
import { type ApiResponse, client } from '../helpers/trellis.ts';

/**
 * Checks Platform API answers against the document: every answer is validated against the
 * document's schema for its operation, status and media type (an answer no operation of the
 * document matches must be a problem), no answer may hold one of `secrets`, and the statuses seen
 * are recorded per operation.
 */
export function answerChecker(secrets: readonly string[]) {
  const exercised = new Map<string, Set<number>>();
  const problemSchema = platformSchemas.component('schemas/ApiProblem');

  function check(method: string, urlPath: string, res: ApiResponse): void {
    const what = `${method} ${urlPath} → ${res.status} ${JSON.stringify(res.body)}`;
    const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
    for (const secret of secrets) expect(text, `${what} leaks a secret`).not.toContain(secret);
    const op = platformSchemas.operationOf(method, urlPath.split('?')[0]!);
    if (!op) {
      expect(res.status, `${what}: no operation of the document answers it`).toBeGreaterThanOrEqual(400);
      expectProblem(res, res.status);
      return;
    }
    if (!exercised.has(op.id)) exercised.set(op.id, new Set());
    exercised.get(op.id)!.add(res.status);
    if (res.status >= 400) expectProblem(res, res.status);
    if (res.status === 204) {
      expect(res.body, what).toBe('');
      return;
    }
    const mediaType = res.headers.get('content-type')?.split(';')[0] ?? '';
    // An answer the document gives no content (createIntegration's 201: `content: {}`) has no body.
    if (mediaType === '' && platformSchemas.validator(op, res.status, '') === null) {
      expect(res.body, what).toBe('');
      return;
    }
    // A few operations document no answer for some errors (the JWT key and object-metadata ones
    // list their statuses, without a default): those are held to the document's error shape.
    const validate =
      platformSchemas.validator(op, res.status, mediaType) ??
      (res.status >= 400 && mediaType === 'application/problem+json' ? problemSchema : undefined);
    expect(
      validate,
      `${what}: the document has no ${res.status} ${mediaType} schema for ${op.id}`,
    ).toBeTruthy();
    expect(validate!(res.body), `${what}\n${op.id}: ${platformSchemas.errorsText(validate!.errors)}`).toBe(
      true,
    );
  }

  /** The operations of `ids` that never answered with a success. */
  const neverSucceeded = (ids: readonly string[]) =>
    ids.filter((id) => ![...(exercised.get(id) ?? [])].some((status) => status < 300));

  return { check, exercised, neverSucceeded };
}

/**
 * Drives Platform API operations over real HTTP for the contract tests that live beside
 * contract.test.ts (operations with fixtures of their own: simulators, receivers), each answer
 * checked by `answerChecker`.
 */
export function contractClient(baseUrl: () => string, apiKey: () => string, secrets: readonly string[]) {
  const { check, neverSucceeded } = answerChecker(secrets);

  async function api(method: string, urlPath: string, body?: unknown): Promise<ApiResponse> {
    const [pathPart, query] = urlPath.split('?');
    const res = await client(baseUrl(), apiKey(), '/v1')(method, pathPart!, {
      query: Object.fromEntries(new URLSearchParams(query ?? '')),
      ...(body === undefined ? {} : { body }),
    });
    check(method, urlPath, res);
    return res;
  }

  return { api, neverSucceeded };
}
