import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { isBedrockUpstream, isEmbedding, parseBedrockTarget, upstreamOf } from './catalogue';
import { ProxyModel } from './models';
import { ClaudeFallback } from './options';

/** The Bedrock actions the runtime uses. Converse and ConverseStream authorize as InvokeModel(WithResponseStream). */
export const BEDROCK_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream', 'bedrock:CountTokens'];

/**
 * The Bedrock resource ARNs the proxy may invoke: every catalogue target's inference profile (in any region: models
 * may set their own region and failover region) and the foundation model it routes to (in any region, including the
 * region-less ARN of global profiles: cross-region profiles route to foundation models in every region of the
 * profile), plus the claude-* fallback pattern.
 *
 * The ARNs are plain strings, never CloudFormation references, so that each one is also the exact cdk-nag finding id
 * it is acknowledged with. The stack's partition and account are used when the stack has an explicit environment;
 * otherwise those segments are `*`, which grants nothing more: the function's role only exists in its own partition,
 * and system inference profiles of other accounts cannot be invoked (they have no resource policies). Foundation-model
 * ARNs have an empty account segment, matched by `*`.
 *
 * @internal
 */
export function bedrockResourceArns(scope: IConstruct, input: {
  readonly defaultTargets: readonly string[];
  readonly models: readonly ProxyModel[];
  readonly claudeFallback: ClaudeFallback;
}): string[] {
  const { profileArn, modelArn } = arnFormats(scope);
  const resources = targetArns(scope, input.defaultTargets, input.models.filter((m) => !isEmbedding(m)));

  // claude-* names outside the catalogue map to <prefix>.anthropic.<name>[-v1:0] (or the bare model for DIRECT).
  if (input.claudeFallback !== ClaudeFallback.NONE) {
    resources.add(modelArn('anthropic.claude-*'));
    if (input.claudeFallback !== ClaudeFallback.DIRECT) {
      resources.add(profileArn(`${input.claudeFallback}.anthropic.claude-*`));
    }
  }

  // Drop ARNs that a wildcard pattern (the claude-* fallback) already covers: a shorter policy, the same access.
  const patterns = [...resources].filter((r) => r.endsWith('-*'));
  return [...resources]
    .filter((r) => Token.isUnresolved(r) || !patterns.some((p) => p !== r && globToRegExp(p).test(r)))
    .sort();
}

/**
 * The Bedrock resource ARNs of the embedding models (kind EMBEDDING): each target's foundation model (and inference
 * profile, when a target is one), in any region, as for chat models. They get their own statement with
 * `bedrock:InvokeModel` only: Bedrock serves embedding models through InvokeModel and does not stream them.
 *
 * @internal
 */
export function embeddingResourceArns(scope: IConstruct, input: {
  readonly defaultTargets: readonly string[];
  readonly models: readonly ProxyModel[];
}): string[] {
  return [...targetArns(scope, input.defaultTargets, input.models.filter(isEmbedding))].sort();
}

function arnFormats(scope: IConstruct) {
  const stack = Stack.of(scope);
  const partition = (!Token.isUnresolved(stack.partition) ? stack.partition : undefined)
    ?? (!Token.isUnresolved(stack.region) ? RegionInfo.get(stack.region).partition : undefined)
    ?? '*';
  const account = Token.isUnresolved(stack.account) ? '*' : stack.account;
  return {
    profileArn: (id: string) => `arn:${partition}:bedrock:*:${account}:inference-profile/${id}`,
    modelArn: (id: string) => `arn:${partition}:bedrock:*:*:foundation-model/${id}`,
  };
}

/** The ARNs for default targets plus the Bedrock models among `models` (their targets and failover targets). */
function targetArns(scope: IConstruct, defaultTargets: readonly string[], models: readonly ProxyModel[]): Set<string> {
  const { profileArn, modelArn } = arnFormats(scope);
  const targets = new Set<string>(defaultTargets);
  for (const model of models) {
    if (!isBedrockUpstream(upstreamOf(model))) continue;
    targets.add(model.target);
    if (model.failover?.target) targets.add(model.failover.target);
  }
  const resources = new Set<string>();
  for (const target of targets) {
    if (Token.isUnresolved(target)) {
      // A reference to an ARN (e.g. an application inference profile created in the app): granted as it is.
      resources.add(target);
      continue;
    }
    const parsed = parseBedrockTarget(target);
    if (parsed.arn) {
      resources.add(parsed.arn);
      continue;
    }
    if (parsed.profileId) resources.add(profileArn(parsed.profileId));
    resources.add(modelArn(parsed.foundationModelId!));
  }
  return resources;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** @internal */
export function embeddingStatement(resources: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'InvokeEmbeddingModels',
    actions: ['bedrock:InvokeModel'],
    resources: [...resources],
  });
}

/** @internal */
export function bedrockStatement(resources: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'InvokeCatalogueModels',
    actions: BEDROCK_ACTIONS,
    resources: [...resources],
  });
}
