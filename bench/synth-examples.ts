/**
 * Synth time of each reference app in examples/, the way `cdk synth` runs it: a fresh `node` process per measurement
 * (module loading counts) that loads the app through ts-node's transpile-only mode (as the examples' cdk.json does),
 * builds it with its four cdk-nag packs registered as validation plugins, and runs `app.synth()` into a temporary
 * directory. aws-cdk-lib then also runs its built-in CloudFormation template validation; each app is measured with it
 * (what `cdk synth` does) and without it (`CDK_VALIDATION=false`, which leaves the nag packs running).
 *
 * Reports the median wall time of the child process and its CPU time (user + system), which does not depend on other
 * load on the machine. Writes bench/out/synth-examples.md (+ .json); the section is copied into bench/RESULTS.md.
 *
 *   node -r ts-node/register/transpile-only bench/synth-examples.ts [runs=3] [example ...]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { loadAverage, machine, median, ROOT, writeResult } from './lib';

const EXAMPLES = ['full-stack', 'claude-code-gateway', 'jwt-router', 'chat-app', 'multi-service'];
/** The budget for the full-stack app with every pack. */
const FULL_STACK_BUDGET_MS = 15_000;

interface ChildResult {
  readonly loadMs: number;
  readonly buildMs: number;
  readonly synthMs: number;
  readonly cpuMs: number;
  readonly stacks: number;
  readonly resources: number;
  readonly plugins: string[];
}

interface Measurement extends ChildResult {
  readonly wallMs: number;
}

/** In the child: load, build and synthesize one example, print the phases as one JSON line. */
function child(name: string): void {
  const t0 = performance.now();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { App } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { buildApp } = require(path.join(ROOT, 'examples', name, 'app')) as { buildApp: (app: InstanceType<typeof App>) => InstanceType<typeof App> };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const t1 = performance.now();
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `synth-${name}-`));
  const app = buildApp(new App({ outdir }));
  const t2 = performance.now();
  const assembly = app.synth();
  const t3 = performance.now();
  const cpu = process.cpuUsage();
  const plugins = (app as unknown as { _validationPlugins: { name: string }[] })._validationPlugins.map((p) => p.name);
  const result: ChildResult = {
    loadMs: t1 - t0,
    buildMs: t2 - t1,
    synthMs: t3 - t2,
    cpuMs: (cpu.user + cpu.system) / 1000,
    stacks: assembly.stacks.length,
    resources: assembly.stacks.reduce((n, s) => n + Object.keys((s.template as { Resources?: object }).Resources ?? {}).length, 0),
    plugins,
  };
  fs.rmSync(outdir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function measure(name: string, cfnValidation: boolean): Measurement {
  const env: NodeJS.ProcessEnv = { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] };
  if (!cfnValidation) env.CDK_VALIDATION = 'false';
  else delete env.CDK_VALIDATION;
  const start = performance.now();
  const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, '--child', name], {
    cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  const wallMs = performance.now() - start;
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{')) {
    throw new Error(`synthesizing ${name} failed (exit ${run.status}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  }
  return { ...(JSON.parse(line) as ChildResult), wallMs };
}

interface Results {
  readonly runs: number;
  readonly machine: string;
  readonly loadBefore: number;
  readonly results: Record<string, { withCfnValidation: Measurement[]; withoutCfnValidation: Measurement[] }>;
}

/** The markdown section for bench/RESULTS.md. */
function render(r: Results): string {
  const s = (msValue: number) => (msValue / 1000).toFixed(1);
  const m = (list: Measurement[], key: keyof Measurement) => median(list.map((x) => x[key] as number));
  const rows = Object.entries(r.results).map(([name, { withCfnValidation: withCfn, withoutCfnValidation: withoutCfn }]) =>
    `| ${name} | ${withCfn[0].stacks} | ${withCfn[0].resources} | **${s(m(withoutCfn, 'wallMs'))}** | ${s(m(withoutCfn, 'cpuMs'))} | `
    + `${s(m(withCfn, 'wallMs'))} | ${s(m(withCfn, 'cpuMs'))} | ${s(m(withoutCfn, 'loadMs'))} / ${s(m(withoutCfn, 'buildMs'))} / ${s(m(withoutCfn, 'synthMs'))} |`);
  const full = r.results['full-stack'];
  const verdict = full === undefined ? '' : (() => {
    const nag = m(full.withoutCfnValidation, 'wallMs');
    const cfn = m(full.withCfnValidation, 'wallMs');
    return `**full-stack with the four nag packs: ${s(nag)} s (budget ${s(FULL_STACK_BUDGET_MS)} s: `
      + `${nag <= FULL_STACK_BUDGET_MS ? 'within budget' : 'over budget'}).** As plain \`cdk synth\` runs it, aws-cdk-lib's own `
      + `CloudFormation validation adds ${s(m(full.withCfnValidation, 'cpuMs') - m(full.withoutCfnValidation, 'cpuMs'))} s of CPU: `
      + `${s(cfn)} s (${cfn <= FULL_STACK_BUDGET_MS ? 'within' : 'over'} budget); set \`CDK_VALIDATION=false\` to skip it.`;
  })();
  return [
    '## Synth time of the reference apps',
    '',
    `\`node -r ts-node/register/transpile-only bench/synth-examples.ts ${r.runs}\` — median of ${r.runs} fresh \`node\` processes per`,
    'app and mode. Each process loads the app through ts-node (transpile-only, as the examples\' `cdk.json` does), builds',
    'it with its AwsSolutions, Serverless, NIST 800-53 R5 and HIPAA Security packs as validation plugins, and synthesizes',
    'it. "nag packs" sets `CDK_VALIDATION=false`, which turns off only aws-cdk-lib\'s built-in CloudFormation template',
    'validation (the nag packs still run); "cdk synth" is the default, where that validation also runs (a WebAssembly rule',
    'engine whose start-up dominates). CPU time is user + system of the process, independent of other load; the last',
    'column splits a "nag packs" run into module loading, building the constructs, and synthesis with the nag packs.',
    '',
    `${r.machine}; 1-min load average at the start ${r.loadBefore.toFixed(2)}.`,
    '',
    '| app | stacks | resources | nag packs: wall (s) | CPU (s) | cdk synth: wall (s) | CPU (s) | load / build / synth (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    verdict,
  ].join('\n').trim();
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--render') {
    // Re-render the section from the last measurements (bench/out/synth-examples.json).
    const saved = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'out', 'synth-examples.json'), 'utf8')) as Results;
    writeResult('synth-examples', `${render(saved)}\n`, saved);
    return;
  }
  const runs = Number(args[0] ?? 3);
  const names = args.length > 1 ? args.slice(1) : EXAMPLES;
  const results: Results['results'] = {};
  const loadBefore = loadAverage();
  for (const name of names) {
    const withCfnValidation: Measurement[] = [];
    const withoutCfnValidation: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      withCfnValidation.push(measure(name, true));
      withoutCfnValidation.push(measure(name, false));
    }
    results[name] = { withCfnValidation, withoutCfnValidation };
    const wall = (list: Measurement[]) => (median(list.map((x) => x.wallMs)) / 1000).toFixed(1);
    process.stderr.write(`${name}: ${wall(withoutCfnValidation)} s with the nag packs (${wall(withCfnValidation)} s with CloudFormation validation too)\n`);
  }
  const saved: Results = { runs, machine: machine(), loadBefore, results };
  writeResult('synth-examples', `${render(saved)}\n`, saved);
}

if (process.argv[2] === '--child') child(process.argv[3]);
else main();
