/**
 * Synthesizes the TypeScript full-stack example (examples/full-stack) and compares it with a template synthesized by
 * another language's version (examples/python/full_stack, examples/java/full-stack), given as the first argument:
 * every resource must exist in both with the same logical id and type, and both must have the same outputs. Prints one
 * line per difference and exits 1 on any, or prints a summary and exits 0.
 *
 *   ts-node --transpile-only --project test/tsconfig.json test/bindings/full-stack-compare.ts <FullStack.template.json> [python|java]
 *
 * Run by test/bindings/python-full-stack.sh and java-full-stack.sh after the packages are built.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../examples/full-stack/app';

interface CfnTemplate {
  readonly Resources?: Record<string, { readonly Type: string; readonly Properties?: { readonly Code?: { readonly S3Key?: unknown } } }>;
  readonly Outputs?: Record<string, unknown>;
}

/** The result of a comparison: the differences, and the id pairs that differ only by a hash of the Lambda code. */
export interface Comparison {
  readonly differences: string[];
  readonly codeHashPairs: string[];
}

/**
 * Logical ids that end in a hash of their content: Lambda versions (`currentVersion`) and API Gateway deployments,
 * whose hash covers the function's code asset.
 */
const CONTENT_HASHED_ID = /^(.*(?:CurrentVersion|Deployment)[0-9A-F]{8})[0-9a-f]{32}$/;

/** The S3 keys (asset hashes) of every Lambda function's code in a template. */
function codeKeys(template: CfnTemplate): string {
  return JSON.stringify(Object.values(template.Resources ?? {})
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((r) => r.Properties?.Code?.S3Key ?? null)
    .sort());
}

/**
 * Differences between two templates' resources (logical id and type) and output names, one line each. Ids with a
 * content hash (Lambda versions, API deployments) are paired by their stem instead when the two templates bundle
 * different Lambda code (the wheel was packaged from an older assets/ than the checkout's); with the same code they
 * must be equal too.
 */
export function compareTemplates(expected: CfnTemplate, actual: CfnTemplate, actualName: string): Comparison {
  const differences: string[] = [];
  const codeHashPairs: string[] = [];
  const want = expected.Resources ?? {};
  const got = actual.Resources ?? {};
  const missing = Object.keys(want).filter((id) => !(id in got));
  const extra = Object.keys(got).filter((id) => !(id in want));
  if (codeKeys(expected) !== codeKeys(actual)) {
    for (const id of [...missing]) {
      const stem = CONTENT_HASHED_ID.exec(id)?.[1];
      const match = stem ? extra.find((other) => CONTENT_HASHED_ID.exec(other)?.[1] === stem && got[other].Type === want[id].Type) : undefined;
      if (match) {
        codeHashPairs.push(`${id} ~ ${match}`);
        missing.splice(missing.indexOf(id), 1);
        extra.splice(extra.indexOf(match), 1);
      }
    }
  }
  for (const id of missing) differences.push(`missing in ${actualName}: ${id} (${want[id].Type})`);
  for (const id of extra) differences.push(`only in ${actualName}: ${id} (${got[id].Type})`);
  for (const id of Object.keys(want).filter((i) => i in got && got[i].Type !== want[i].Type)) {
    differences.push(`type of ${id}: TypeScript ${want[id].Type}, ${actualName} ${got[id].Type}`);
  }
  const wantOutputs = Object.keys(expected.Outputs ?? {}).sort();
  const gotOutputs = Object.keys(actual.Outputs ?? {}).sort();
  for (const name of wantOutputs.filter((o) => !gotOutputs.includes(o))) differences.push(`output missing in ${actualName}: ${name}`);
  for (const name of gotOutputs.filter((o) => !wantOutputs.includes(o))) differences.push(`output only in ${actualName}: ${name}`);
  return { differences, codeHashPairs };
}

function main(): void {
  const [templatePath, language = 'python'] = process.argv.slice(2);
  if (!templatePath) {
    console.error('usage: full-stack-compare.ts <FullStack.template.json synthesized by another language\'s app> [python|java]');
    process.exit(2);
  }
  const label = `${language}: full-stack:`;
  const name = language.charAt(0).toUpperCase() + language.slice(1);
  const actual: CfnTemplate = JSON.parse(fs.readFileSync(templatePath, 'utf8'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'full-stack-ts-'));
  try {
    const assembly = buildApp(new App({ outdir })).synth();
    const expected = assembly.getStackByName('FullStack').template as CfnTemplate;
    const { differences, codeHashPairs } = compareTemplates(expected, actual, name);
    const count = Object.keys(expected.Resources ?? {}).length;
    if (differences.length > 0) {
      for (const line of differences) console.log(`${label} ${line}`);
      console.log(`${label} ${differences.length} differences from the TypeScript app (${count} resources)`);
      process.exit(1);
    }
    if (codeHashPairs.length > 0 && (process.env.CI === 'true' || process.env.FULL_STACK_STRICT === '1')) {
      console.log(`${label} in CI the package and assets/ come from one build, so every id must be equal; differing: ${codeHashPairs.join(', ')}`);
      process.exit(1);
    }
    if (codeHashPairs.length > 0) {
      console.log(`${label} the package bundles other Lambda code than assets/ (packaged before the last bundle), so ${codeHashPairs.length} ` +
        `content-hashed ids were matched by stem: ${codeHashPairs.join(', ')}; rebuild with \`npx projen package-all\` for an exact match`);
    }
    const types = new Set(Object.values(expected.Resources ?? {}).map((r) => r.Type)).size;
    console.log(`${label} ${count} resources (${types} types) and ${Object.keys(expected.Outputs ?? {}).length} outputs ` +
      `${codeHashPairs.length > 0 ? 'match' : 'identical to'} the TypeScript app`);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) main();
