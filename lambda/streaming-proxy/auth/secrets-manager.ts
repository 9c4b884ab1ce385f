/**
 * Reads secret strings from Secrets Manager. The SDK client is imported lazily (only modes that keep secrets need it)
 * and created once; it honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER and the standard credential chain.
 */
type Client = { send: (secretId: string, versionStage?: string) => Promise<string> };
type ClientConfig = { region?: string; endpoint?: string };

function lazyClient(clientConfig: ClientConfig): { get: () => Promise<Client>; reset: () => void } {
  let client: Promise<Client> | undefined;
  const connect = async (): Promise<Client> => {
    // require, not import(): esbuild keeps it lazy in the bundle, and it also runs under jest's CommonJS loader.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sm = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
    const c = new sm.SecretsManagerClient({
      ...(clientConfig.region ? { region: clientConfig.region } : {}),
      ...(clientConfig.endpoint ? { endpoint: clientConfig.endpoint } : {}),
    });
    return {
      send: async (secretId: string, versionStage?: string) => {
        const out = await c.send(new sm.GetSecretValueCommand({ SecretId: secretId, ...(versionStage ? { VersionStage: versionStage } : {}) }));
        if (out.SecretString === undefined) throw new Error('the secret has no SecretString');
        return out.SecretString;
      },
    };
  };
  return {
    get: () => (client ??= connect()),
    reset: () => {
      client = undefined;
    },
  };
}

/** Never keep a failed client promise; never surface the SDK's message (it can quote request details). */
function forgetBrokenClient(err: unknown, client: { reset: () => void }): void {
  if (!(err instanceof Error) || err.name === 'Error') client.reset();
}

export function secretsManagerLoader(secretArn: string, clientConfig: ClientConfig = {}): () => Promise<string> {
  const client = lazyClient(clientConfig);
  return async () => {
    try {
      return await (await client.get()).send(secretArn);
    } catch (err) {
      forgetBrokenClient(err, client);
      throw err;
    }
  };
}

/**
 * Loads the AWSCURRENT and, when there is one, the AWSPREVIOUS version of a secret (current first). A secret that has
 * never been rotated has no AWSPREVIOUS version; Secrets Manager then answers ResourceNotFoundException for that stage.
 */
export function currentAndPreviousLoader(secretArn: string, clientConfig: ClientConfig = {}): () => Promise<string[]> {
  const client = lazyClient(clientConfig);
  return async () => {
    try {
      const c = await client.get();
      const [current, previous] = await Promise.all([
        c.send(secretArn, 'AWSCURRENT'),
        c.send(secretArn, 'AWSPREVIOUS').catch((err: unknown) => {
          if (err instanceof Error && err.name === 'ResourceNotFoundException') return undefined;
          throw err;
        }),
      ]);
      return previous === undefined ? [current] : [current, previous];
    } catch (err) {
      forgetBrokenClient(err, client);
      throw err;
    }
  };
}
