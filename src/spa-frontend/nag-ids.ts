import { Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The text cdk-nag prints for a CloudFormation value inside a finding id such as `AwsSolutions-IAM5[Resource::...]`:
 * `${X}` of `Fn::Sub` and `Ref: X` become `<X>`, `Fn::GetAtt: [R, A]` becomes `<R.A>` and `Fn::Join` is joined.
 * Used to acknowledge a finding on a resource whose name is only known at synth time (the CDK asset bucket).
 *
 * @internal
 */
export function nagResourceText(scope: IConstruct, value: string): string {
  return flatten(Stack.of(scope).resolve(value));
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.split('${').join('<').split('}').join('>');
  if (typeof node === 'object' && node !== null) {
    const keys = Object.keys(node);
    const obj = node as Record<string, unknown>;
    if (keys.length === 1) {
      const [key] = keys;
      const arg = obj[key];
      if (key === 'Fn::Join' && Array.isArray(arg)) return (arg[1] as unknown[]).map(flatten).join(arg[0] as string);
      if (key === 'Fn::Sub') return flatten(arg);
      if (key === 'Fn::GetAtt' && Array.isArray(arg)) return `<${flatten(arg[0])}.${flatten(arg[1])}>`;
      if (key === 'Fn::ImportValue') return flatten(arg);
      if (key === 'Ref') return `<${flatten(arg)}>`;
    }
  }
  return JSON.stringify(node);
}
