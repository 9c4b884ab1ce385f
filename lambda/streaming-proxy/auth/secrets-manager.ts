/**
 * Reads a secret string from Secrets Manager. The SDK client is imported lazily (only api-keys mode needs it) and
 * created once; it honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER and the standard credential chain.
 */
export function secretsManagerLoader(secretArn: string, clientConfig: { region?: string; endpoint?: string } = {}): () => Promise<string> {
  let client: Promise<{ send: (secretId: string) => Promise<string> }> | undefined;
  const connect = async () => {
    // require, not import(): esbuild keeps it lazy in the bundle, and it also runs under jest's CommonJS loader.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sm = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
    const c = new sm.SecretsManagerClient({
      ...(clientConfig.region ? { region: clientConfig.region } : {}),
      ...(clientConfig.endpoint ? { endpoint: clientConfig.endpoint } : {}),
    });
    return {
      send: async (secretId: string) => {
        const out = await c.send(new sm.GetSecretValueCommand({ SecretId: secretId }));
        if (out.SecretString === undefined) throw new Error('the secret has no SecretString');
        return out.SecretString;
      },
    };
  };
  return async () => {
    client ??= connect();
    try {
      return await (await client).send(secretArn);
    } catch (err) {
      // Never keep a failed client promise; never surface the SDK's message (it can quote request details).
      if (!(err instanceof Error) || err.name === 'Error') client = undefined;
      throw err;
    }
  };
}
