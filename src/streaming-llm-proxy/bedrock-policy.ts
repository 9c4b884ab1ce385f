import { Aws, Fn } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { isBedrockUpstream, parseBedrockTarget, upstreamOf } from './catalogue';
import { ProxyModel } from './models';
import { ClaudeFallback } from './options';

/** The Bedrock actions the runtime uses. Converse and ConverseStream authorize as InvokeModel(WithResponseStream). */
export const BEDROCK_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream', 'bedrock:CountTokens'];

/** Placeholders in ARN templates, rendered either as CloudFormation pseudo parameters or as cdk-nag prints them. */
const PARTITION = '{partition}';
const ACCOUNT = '{account}';

/**
 * The Bedrock resource ARN templates the proxy may invoke: every catalogue target's inference profile (in any region:
 * models may set their own region and failover region) and the foundation model it routes to (in any region,
 * including the region-less ARN of global profiles: cross-region profiles route to foundation models in every region
 * of the profile), plus the claude-* fallback pattern.
 *
 * @internal
 */
export function bedrockResourceTemplates(input: {
  readonly defaultTargets: readonly string[];
  readonly models: readonly ProxyModel[];
  readonly claudeFallback: ClaudeFallback;
}): string[] {
  const targets = new Set<string>(input.defaultTargets);
  for (const model of input.models) {
    if (!isBedrockUpstream(upstreamOf(model))) continue;
    targets.add(model.target);
    if (model.failover?.target) targets.add(model.failover.target);
  }

  const resources = new Set<string>();
  for (const target of targets) {
    const parsed = parseBedrockTarget(target);
    if (parsed.arn) {
      resources.add(parsed.arn);
      continue;
    }
    if (parsed.profileId) {
      resources.add(`arn:${PARTITION}:bedrock:*:${ACCOUNT}:inference-profile/${parsed.profileId}`);
    }
    resources.add(`arn:${PARTITION}:bedrock:*::foundation-model/${parsed.foundationModelId}`);
  }

  // claude-* names outside the catalogue map to <prefix>.anthropic.<name>-v1:0 (or the bare model for DIRECT).
  if (input.claudeFallback !== ClaudeFallback.NONE) {
    resources.add(`arn:${PARTITION}:bedrock:*::foundation-model/anthropic.claude-*`);
    if (input.claudeFallback !== ClaudeFallback.DIRECT) {
      resources.add(`arn:${PARTITION}:bedrock:*:${ACCOUNT}:inference-profile/${input.claudeFallback}.anthropic.claude-*`);
    }
  }
  // Drop ARNs that a wildcard pattern (the claude-* fallback) already covers: a shorter policy, the same access.
  const patterns = [...resources].filter((r) => r.endsWith('-*'));
  return [...resources]
    .filter((r) => !patterns.some((p) => p !== r && globToRegExp(p).test(r)))
    .sort();
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** @internal */
export function renderArn(template: string): string {
  if (!template.includes(PARTITION) && !template.includes(ACCOUNT)) return template;
  const parts: string[] = [];
  for (const piece of template.split(/(\{partition\}|\{account\})/)) {
    if (piece === PARTITION) parts.push(Aws.PARTITION);
    else if (piece === ACCOUNT) parts.push(Aws.ACCOUNT_ID);
    else if (piece) parts.push(piece);
  }
  return Fn.join('', parts);
}

/**
 * The resource as cdk-nag's AwsSolutions-IAM5 finding prints it.
 *
 * @internal
 */
export function nagResource(template: string): string {
  return template.replace(PARTITION, '<AWS::Partition>').replace(ACCOUNT, '<AWS::AccountId>');
}

/** @internal */
export function bedrockStatement(templates: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'InvokeCatalogueModels',
    actions: BEDROCK_ACTIONS,
    resources: templates.map(renderArn),
  });
}
