import type { ManualConnectionInput } from '../../core/connections.ts';

/**
 * The body of POST /customers/:customer_id/connections (one branch per provider in Supaglue's
 * document), translated to the core's manual connection input.
 */
export type ManualConnectionBody =
  | { provider_name: 'apollo'; type: 'api_key'; api_key: string }
  | { provider_name: 'gong'; type: 'access_key_secret'; access_key: string; access_key_secret: string }
  | {
      provider_name: 'salesforce' | 'hubspot';
      type: 'oauth2';
      refresh_token: string;
      instance_url?: string;
      login_url?: string;
    };

export function manualConnectionInputOf(body: ManualConnectionBody): ManualConnectionInput {
  const providerName = body.provider_name;
  switch (body.type) {
    case 'api_key':
      return { providerName, credentials: { authType: 'api_key', apiKey: body.api_key } };
    case 'access_key_secret':
      return {
        providerName,
        credentials: {
          authType: 'access_key_secret',
          accessKey: body.access_key,
          accessKeySecret: body.access_key_secret,
        },
      };
    case 'oauth2':
      return {
        providerName,
        credentials: {
          authType: 'oauth2',
          refreshToken: body.refresh_token,
          ...(body.instance_url === undefined ? {} : { instanceUrl: body.instance_url }),
          ...(body.login_url === undefined ? {} : { loginUrl: body.login_url }),
        },
      };
  }
}
