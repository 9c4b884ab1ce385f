import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * A cdk-nag finding that a construct accepts by design, and why.
 *
 * @internal
 */
export interface NagAcknowledgement {
  /** The rule id exactly as cdk-nag reports it, e.g. `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the finding is by design: a sentence a reviewer would accept, specific to this resource. */
  readonly reason: string;
}

/** Reasons shorter than this are not reasons. */
const MIN_REASON_LENGTH = 20;

/**
 * Acknowledge cdk-nag (v3) findings on one construct (and its children) with a required reason.
 * This is the only place the library calls `Validations.acknowledge`; cdk-nag itself stays a devDependency.
 *
 * @internal
 */
export function acknowledgeNag(scope: IConstruct, ...acknowledgements: NagAcknowledgement[]): void {
  for (const ack of acknowledgements) {
    if (!ack.id || !ack.reason || ack.reason.trim().length < MIN_REASON_LENGTH) {
      throw new Error(
        `A cdk-nag acknowledgement of '${ack.id}' on ${scope.node.path} needs a specific reason (at least ${MIN_REASON_LENGTH} characters).`,
      );
    }
    if (ack.id.split('::').length > 2) {
      // aws-cdk-lib 2.263 rejects ids with more than one '::', which cdk-nag finding ids such as
      // `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:...]` have; record the acknowledgement in the metadata entry
      // that Validations.acknowledge writes and cdk-nag reads.
      scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [ack.id]: ack.reason.trim() });
    } else {
      Validations.of(scope).acknowledge({ id: ack.id, reason: ack.reason.trim() });
    }
  }
}
