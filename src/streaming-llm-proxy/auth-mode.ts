/**
 * How callers authenticate to the proxy (the runtime's `PROXY_AUTH_MODE`).
 */
export enum ProxyAuthMode {
  /** API keys from a Secrets Manager secret, sent as `x-api-key` or `Authorization: Bearer`. */
  API_KEYS = 'api-keys',
  /** JSON Web Tokens from an OIDC issuer (Cognito, Auth0, Entra ID, ...). */
  JWT = 'jwt',
  /** AWS SigV4: the endpoint authenticates the caller's IAM identity. */
  IAM = 'iam',
  /** No authentication. */
  NONE = 'none',
}
