import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhook, verifyWebhook } from '../../src/auth/webhook-signature.ts';

describe('Standard Webhooks signatures', () => {
  it('matches the specification example', () => {
    // The worked example from the Standard Webhooks specification.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('verifies its own signatures and rejects tampering, other secrets and stale timestamps', () => {
    const secret = generateWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const signature = signWebhook(secret, 'msg_1', now, '{"a":1}');
    const headers = { id: 'msg_1', timestamp: String(now), signature };
    expect(verifyWebhook(secret, headers, '{"a":1}')).toBe(true);
    expect(verifyWebhook(secret, headers, '{"a":2}')).toBe(false);
    expect(verifyWebhook(generateWebhookSecret(), headers, '{"a":1}')).toBe(false);
    expect(verifyWebhook(secret, { ...headers, timestamp: String(now - 3600) }, '{"a":1}')).toBe(false);
  });
});
