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

function main(): void {
  const args = process.argv.slice(2);
  const runs = Number(args[0] ?? 3);
  const names = args.length > 1 ? args.slice(1) : EXAMPLES;
  const s = (msValue: number) => (msValue / 1000).toFixed(1);
  const rows: string[] = [];
  const data: Record<string, unknown> = {};
  const loadBefore = loadAverage();
  for (const name of names) {
    const withCfn: Measurement[] = [];
    const withoutCfn: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      withCfn.push(measure(name, true));
      withoutCfn.push(measure(name, false));
    }
    const m = (list: Measurement[], key: keyof Measurement) => median(list.map((x) => x[key] as number));
    data[name] = { withCfnValidation: withCfn, withoutCfnValidation: withoutCfn };
    const first = withCfn[0];
    rows.push(`| ${name} | ${first.stacks} | ${first.resources} | **${s(m(withCfn, 'wallMs'))}** | ${s(m(withCfn, 'cpuMs'))} | `
      + `${s(m(withoutCfn, 'wallMs'))} | ${s(m(withoutCfn, 'cpuMs'))} | ${s(m(withoutCfn, 'loadMs'))} / ${s(m(withoutCfn, 'buildMs'))} / ${s(m(withoutCfn, 'synthMs'))} |`);
    process.stderr.write(`${name}: ${s(m(withCfn, 'wallMs'))} s (${s(m(withoutCfn, 'wallMs'))} s without CloudFormation validation)\n`);
  }
  const full = data['full-stack'] as { withCfnValidation: Measurement[] } | undefined;
  const fullMs = full ? median(full.withCfnValidation.map((x) => x.wallMs)) : undefined;
  const markdown = [
    '## Synth time of the reference apps',
    '',
    '`node -r ts-node/register/transpile-only bench/synth-examples.ts ' + `${runs}\` — median of ${runs} fresh \`node\` processes per`,
    'app and mode. Each process loads the app through ts-node (transpile-only, as the examples\' `cdk.json` does), builds',
    'it with its AwsSolutions, Serverless, NIST 800-53 R5 and HIPAA Security packs as validation plugins, and synthesizes',
    'it. "cdk synth" is the default, where aws-cdk-lib also runs its own CloudFormation template validation (a WebAssembly',
    'rule engine whose start-up dominates); the next columns set `CDK_VALIDATION=false`, which turns off only that',
    'validation (the nag packs still run). CPU time is user + system of the process, independent of other load; the last',
    'column splits the second run into module loading, building the constructs, and synthesis with the nag packs.',
    '',
    `${machine()}; 1-min load average at the start ${loadBefore.toFixed(2)}.`,
    '',
    '| app | stacks | resources | cdk synth: wall (s) | CPU (s) | nag only: wall (s) | CPU (s) | load / build / synth (s) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    fullMs === undefined ? '' : `full-stack with every pack: ${s(fullMs)} s wall, budget ${s(FULL_STACK_BUDGET_MS)} s: `
      + `${fullMs <= FULL_STACK_BUDGET_MS ? 'within budget' : 'OVER BUDGET'}.`,
  ].join('\n').trim();
  writeResult('synth-examples', `${markdown}\n`, { runs, machine: machine(), loadBefore, results: data });
}

if (process.argv[2] === '--child') child(process.argv[3]);
else main();
