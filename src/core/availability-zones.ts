import { Fn, Stack, Token } from 'aws-cdk-lib';

/** Whether the stack's account and region are known at synth time (and so `stack.availabilityZones` is a lookup). */
export function isEnvSpecific(stack: Stack): boolean {
  return !Token.isUnresolved(stack.account) && !Token.isUnresolved(stack.region);
}

/** The first `count` Availability Zones of the stack's region, resolved at deploy time (Fn::GetAZs): no lookup. */
export function deployTimeAvailabilityZones(stack: Stack, count: number): string[] {
  return Array.from({ length: count }, (_, i) => Fn.select(i, Fn.getAzs(stack.region)));
}

/**
 * Runs `build` while `stack.availabilityZones` answers `zones`, then restores the stack as it was.
 *
 * `ec2.Vpc` reads `stack.availabilityZones` even when it is given `availabilityZones` (to check that they belong to the
 * stack's), and in a stack with a concrete account and region that read is a context lookup: `cdk synth` then needs
 * AWS credentials or a cdk.context.json. The zones handed to the VPC are the ones it will use, so answering its check
 * with them changes nothing but the lookup. Any own property of the stack under that name (a jsii override from
 * another language) is put back afterwards.
 */
export function withStackAvailabilityZones<T>(stack: Stack, zones: string[], build: () => T): T {
  const own = Object.getOwnPropertyDescriptor(stack, 'availabilityZones');
  Object.defineProperty(stack, 'availabilityZones', { configurable: true, get: () => zones });
  try {
    return build();
  } finally {
    if (own) Object.defineProperty(stack, 'availabilityZones', own);
    else delete (stack as { availabilityZones?: string[] }).availabilityZones;
  }
}
