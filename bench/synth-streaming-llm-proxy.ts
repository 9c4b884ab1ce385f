/**
 * Synth time of a stack holding StreamingLlmProxy, in its default and fully-featured configurations, with and without
 * the four cdk-nag packs (AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security) as validation plugins.
 *
 * Each measurement is a fresh `node` process (so module loading counts, as it does for `cdk synth`) that loads
 * aws-cdk-lib and the library from TypeScript source through ts-node's transpile-only mode (slower than the compiled
 * lib/ a consumer loads), builds the app, and runs `app.synth()` into a temporary directory. The process reports its
 * own phases; the wall time is measured around the whole child process. Writes bench/out/synth-streaming-llm-proxy.md.
 *
 *   node -r ts-node/register/transpile-only bench/synth-streaming-llm-proxy.ts [runs]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'bench', 'out');
const CONFIGS = ['baseline', 'default', 'full'] as const;
type Config = typeof CONFIGS[number];

interface Phases {
  readonly loadMs: number;
  readonly constructMs: number;
  readonly synthMs: number;
  /** CPU time (user + system) of the whole child process: independent of other load on the machine. */
  readonly cpuMs: number;
  readonly resources: number;
}

/** Runs in the child: build one configuration and synthesize it, printing the phases as JSON. */
function child(config: Config, nag: boolean): void {
  const t0 = performance.now();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const cdk = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const acm = require('aws-cdk-lib/aws-certificatemanager') as typeof import('aws-cdk-lib/aws-certificatemanager');
  const kms = require('aws-cdk-lib/aws-kms') as typeof import('aws-cdk-lib/aws-kms');
  const apigateway = require('aws-cdk-lib/aws-apigateway') as typeof import('aws-cdk-lib/aws-apigateway');
  const cloudfront = require('aws-cdk-lib/aws-cloudfront') as typeof import('aws-cdk-lib/aws-cloudfront');
  const lib = require('../src') as typeof import('../src');
  const nagPacks = require('cdk-nag') as typeof import('cdk-nag');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const t1 = performance.now();

  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-bench-'));
  const app = new cdk.App({ outdir });
  if (nag) {
    cdk.Validations.of(app).addPlugins(
      new nagPacks.AwsSolutionsChecks(app), new nagPacks.ServerlessChecks(app),
      new nagPacks.NIST80053R5Checks(app), new nagPacks.HIPAASecurityChecks(app),
    );
  }
  const stack = new cdk.Stack(app, 'Proxy', { env: { account: '111111111111', region: 'us-east-1' } });
  if (config === 'baseline') {
    // The same app with one SNS topic instead of the proxy: the fixed cost of node, aws-cdk-lib and synth.
    new (require('aws-cdk-lib/aws-sns') as typeof import('aws-cdk-lib/aws-sns')).Topic(stack, 'Topic'); // eslint-disable-line @typescript-eslint/no-require-imports
  } else if (config === 'default') {
    new lib.StreamingLlmProxy(stack, 'Proxy');
  } else {
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const certificate = new acm.Certificate(stack, 'Certificate', { domainName: 'llm.example.com' });
    new lib.StreamingLlmProxy(stack, 'Proxy', {
      auth: lib.ProxyAuth.apiKeys({ cacheTtl: cdk.Duration.minutes(1) }),
      endpoint: lib.ProxyEndpoint.restApi({ usagePlan: { quota: { limit: 100_000, period: apigateway.Period.MONTH } } }),
      sessions: new lib.VpcRedisSessions(stack, 'Sessions'),
      models: [{ id: 'house', target: 'eu.anthropic.claude-sonnet-4-6', pricing: { inputPerMTok: 3, outputPerMTok: 15 } }],
      rateLimits: { requestsPerMinute: 60, tokensPerDay: 1_000_000 },
      encryptionKey: key,
      reservedConcurrency: 50,
      provisionedConcurrency: 2,
      cloudFront: { domainNames: ['llm.example.com'], certificate, geoRestriction: cloudfront.GeoRestriction.allowlist('US', 'DE') },
      parameterPrefix: '/llm-proxy/prod',
      alarms: { tokensPerHour: 5_000_000 },
    });
  }
  const t2 = performance.now();
  const assembly = app.synth();
  const t3 = performance.now();
  const template = assembly.getStackByName('Proxy').template as { Resources: Record<string, unknown> };
  fs.rmSync(outdir, { recursive: true, force: true });
  const cpu = process.cpuUsage();
  const phases: Phases = {
    loadMs: t1 - t0, constructMs: t2 - t1, synthMs: t3 - t2, cpuMs: (cpu.user + cpu.system) / 1000, resources: Object.keys(template.Resources).length,
  };
  process.stdout.write(`${JSON.stringify(phases)}\n`);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function parent(runs: number): void {
  const rows: string[] = [];
  for (const config of CONFIGS) {
    for (const [nag, cfnValidate] of [[false, false], [false, true], [true, false], [true, true]]) {
      // The baseline's bare topic is not nag-clean, and the packs are part of what the proxy rows measure.
      if (config === 'baseline' && nag) continue;
      const walls: number[] = [];
      const phases: Phases[] = [];
      for (let i = 0; i < runs; i++) {
        const start = performance.now();
        const env = { ...process.env, TS_NODE_PROJECT: path.join(ROOT, 'test', 'tsconfig.json'), CDK_VALIDATION: cfnValidate ? 'true' : 'false' };
        const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', __filename, '--child', config, String(nag)], {
          cwd: ROOT, encoding: 'utf8', env,
        });
        walls.push(performance.now() - start);
        if (result.status !== 0) throw new Error(`synth of ${config} failed:\n${result.stderr}`);
        phases.push(JSON.parse(result.stdout.trim().split('\n').pop()!) as Phases);
      }
      const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      rows.push(`| ${config} | ${nag ? 'all four packs' : 'none'} | ${cfnValidate ? 'on (default)' : 'off'} | ${phases[0].resources} | ` +
        `${s(median(phases.map((p) => p.loadMs)))} | ` +
        `${s(median(phases.map((p) => p.constructMs)))} | ${s(median(phases.map((p) => p.synthMs)))} | **${s(median(walls))}** | ` +
        `${s(median(phases.map((p) => p.cpuMs)))} |`);
      console.log(rows[rows.length - 1]);
    }
  }
  const cpus = os.cpus();
  const md = [
    '## Synth: StreamingLlmProxy',
    '',
    `\`node -r ts-node/register/transpile-only bench/synth-streaming-llm-proxy.ts ${runs}\`: a stack with StreamingLlmProxy alone, default`,
    '(`new StreamingLlmProxy(stack, \'Proxy\')`) and fully featured (REST API with usage plan and WAF, VpcRedisSessions with',
    'its VPC, customer managed KMS key, CloudFront with custom domain, WAF and access logs, provisioned concurrency,',
    'SSM parameters, token alarm). Each run is a fresh node process: the wall time includes starting node, loading',
    'aws-cdk-lib and the library from TypeScript source (transpile-only; a consumer loads compiled JavaScript), building',
    'the app and `app.synth()` into a temporary directory; with nag, the four cdk-nag packs run as validation plugins',
    `during synth. Median of ${runs} runs; ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, node ${process.version};`,
    `load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) when the report was written. The CPU`,
    'column is the child process\'s own user + system time, which other work on the machine does not inflate.',
    '',
    'aws-cdk-lib 2.263 validates every synthesized template with its built-in CloudFormation validation plugin (a Rego',
    'engine compiled to WebAssembly) unless `CDK_VALIDATION=false`; the rows with it off show what the construct itself',
    'costs, the rows with it on what a default `cdk synth` of this stack costs. The baseline rows synthesize the same app',
    'with one SNS topic instead of the proxy: the fixed cost every stack pays.',
    '',
    '| configuration | cdk-nag | CloudFormation validation | resources | load | construct | synth | wall (whole process) | CPU (whole process) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'synth-streaming-llm-proxy.md'), md);
  console.log(`\n${md}\nwrote bench/out/synth-streaming-llm-proxy.md`);
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as Config, process.argv[4] === 'true');
} else {
  parent(Number(process.argv[2] ?? 5));
}
