import { IResolvable, Stack, Token, Tokenization } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Lambda limits the total size of a function's environment variables (keys and values) to 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * Bytes assumed for a value only known at deploy time (an ARN, a host name): longer than a typical ARN, so the
 * synth-time check errs on the side of refusing.
 */
const DEPLOY_TIME_VALUE_BYTES = 160;

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Size of a string that may contain tokens: literal parts exactly, each token estimated. */
function stringSize(value: string): number {
  if (!Token.isUnresolved(value)) return bytes(value);
  const placeholder = 'x'.repeat(DEPLOY_TIME_VALUE_BYTES);
  const estimated = Tokenization.reverseString(value)
    .mapTokens({ mapToken: () => placeholder })
    .join({ join: (left: unknown, right: unknown) => `${left}${right}` });
  return bytes(String(estimated));
}

/** Size of a resolved CloudFormation value (string or intrinsic). */
function resolvedSize(value: unknown): number {
  if (typeof value === 'string') return stringSize(value);
  if (typeof value === 'number' || typeof value === 'boolean') return bytes(String(value));
  if (value && typeof value === 'object') {
    const join = (value as Record<string, unknown>)['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) {
      const [sep, parts] = join as [string, unknown[]];
      return parts.reduce<number>((n, p) => n + resolvedSize(p), 0) + bytes(sep) * Math.max(0, parts.length - 1);
    }
    return DEPLOY_TIME_VALUE_BYTES;
  }
  return 0;
}

/**
 * Estimated size of an environment as Lambda counts it (keys + values), with deploy-time values estimated.
 *
 * @internal
 */
export function environmentSize(environment: Record<string, string>): number {
  return Object.entries(environment).reduce((n, [k, v]) => n + bytes(k) + stringSize(v), 0);
}

/**
 * Estimated size of a CfnFunction's resolved `Environment.Variables`.
 *
 * @internal
 */
export function resolvedEnvironmentSize(scope: IConstruct, environment: IResolvable | unknown): number {
  const resolved = Stack.of(scope).resolve(environment) as { Variables?: Record<string, unknown>; variables?: Record<string, unknown> } | undefined;
  const variables = resolved?.Variables ?? resolved?.variables ?? {};
  return Object.entries(variables).reduce((n, [k, v]) => n + bytes(k) + resolvedSize(v), 0);
}

/**
 * The error for an environment over Lambda's limit, naming the props that fill it.
 *
 * @internal
 */
export function environmentTooLargeMessage(size: number, modelsSize: number): string {
  return `The proxy function's environment would be about ${size} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit ` +
    `(the \`models\` catalogue takes ${modelsSize} bytes of it as PROXY_MODELS). Shorten \`models\`: drop optional fields ` +
    '(displayName, aliases, pricing), or move rarely used models out of the catalogue and rely on the claude-* fallback.';
}
