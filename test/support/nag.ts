import { PolicyValidationPluginReport } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** One unacknowledged cdk-nag finding, flattened for readable test failures. */
export interface NagFinding {
  readonly pack: string;
  readonly rule: string;
  readonly resource: string;
  readonly description: string;
}

/**
 * Runs the AwsSolutions, Serverless, NIST 800-53 R5 and HIPAA Security packs (cdk-nag v3) over a scope with
 * `validateScope` and returns every finding that was not acknowledged. Construct tests assert that the list is empty.
 */
export function nagFindings(scope: IConstruct): NagFinding[] {
  const packs = [new AwsSolutionsChecks(), new ServerlessChecks(), new NIST80053R5Checks(), new HIPAASecurityChecks()];
  const findings: NagFinding[] = [];
  for (const pack of packs) {
    const report: PolicyValidationPluginReport = pack.validateScope(scope);
    for (const violation of report.violations) {
      for (const resource of violation.violatingResources) {
        findings.push({
          pack: pack.name,
          rule: violation.ruleName,
          // cdk-nag v3 names the construct path; template path and logical id are set by other validation plugins.
          resource: (resource as { constructPath?: string }).constructPath
            ?? `${(resource.templatePath ?? '').split('/').pop()}:${resource.resourceLogicalId}`,
          description: violation.description,
        });
      }
    }
  }
  return findings;
}

/** The findings as one line each, for `expect(formatFindings(f)).toEqual([])` style assertions. */
export function formatFindings(findings: NagFinding[]): string[] {
  return findings.map((f) => `${f.rule} on ${f.resource}: ${f.description}`);
}
