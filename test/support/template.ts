/**
 * Small readers of a synthesized template for the construct tests: the one resource of a kind, a role's policy
 * statements and their actions, a function's environment, a construct's logical id.
 */
import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';

export type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The one entry (logical id, value); fails the test when there is not exactly one. */
export function only<T>(items: Record<string, T>): [string, T] {
  const entries = Object.entries(items);
  expect(entries).toHaveLength(1);
  return entries[0];
}

/** The logical id of a construct's default child (its CloudFormation resource). */
export function logicalIdOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

/** The statements of the one policy attached to the role. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  return only(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleLogicalId }] } }))[1]
    .Properties.PolicyDocument.Statement;
}

export function actionsOf(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

export function envOf(template: Template, functionLogicalId: string): Record<string, unknown> {
  return template.toJSON().Resources[functionLogicalId].Properties.Environment.Variables;
}
