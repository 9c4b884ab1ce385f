/**
 * Bundles the runtime code in lambda/ into assets/, at library build time.
 *
 * - every `lambda/<name>/index.ts` becomes `assets/<name>/index.js` (CommonJS, minified, Node LTS target) — the folder
 *   a construct hands to `Code.fromAsset` through `src/core/assets.ts`;
 * - `lambda/dev-server/cli.ts` becomes `assets/dev-server/cli.js`, the package's `cdk-serverless-llm` bin;
 * - `lambda/shared/` holds code shared by the functions and is not an entry of its own.
 *
 * A folder may need a different output (a CloudFront Function is not a Node module): ENTRY_OVERRIDES says so.
 * Each bundle's esbuild metafile is written to bench/out/bundles/<name>.json for the cold-start benchmark.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '..');
const lambdaDir = path.join(root, 'lambda');
const assetsDir = path.join(root, 'assets');
const metaDir = path.join(root, 'bench', 'out', 'bundles');

/** The Node.js version the Lambda functions run on (Runtime.NODEJS_24_X in the constructs). */
const LAMBDA_TARGET = 'node24';
/** The oldest Node.js the dev server supports on a developer's machine. */
const DEV_SERVER_TARGET = 'node20';

interface EntryOverride {
  /** Options merged over the defaults for this entry. */
  readonly options?: esbuild.BuildOptions;
  /**
   * Modules kept out of this entry's bundle and built as separate files beside it, loaded with `require` only when the
   * code path that needs them runs (so they cost neither bundle size nor init time when unused). A module is matched by
   * the file an import resolves to, so `require('../shared/batches')` from lambda/streaming-proxy/ and
   * `require('../../shared/batches')` from lambda/streaming-proxy/batches/ both load `./batches.js`.
   */
  readonly lazyModules?: readonly LazyModule[];
  /** Entry file name inside lambda/<name>/ when it is not index.ts. */
  readonly entryFile?: string;
  /** Output file name inside assets/<name>/ when it is not index.js. */
  readonly outFile?: string;
}

interface LazyModule {
  /** The module's file (relative to the repository root); an import that resolves to it loads `./<outFile>`. */
  readonly source: string;
  readonly outFile: string;
}

/** The proxy runtime's optional parts: the proxy and the batch worker (which runs the same upstream layer) load them lazily. */
const PROXY_RUNTIME_LAZY_MODULES: readonly LazyModule[] = [
  // The Redis client (~500 KiB with its modules) is needed only when sessions or limits use VpcRedisSessions.
  { source: 'lambda/shared/redis/index.ts', outFile: 'redis.js' },
  // The DynamoDB client, for the gateway table (PROXY_GATEWAY_TABLE) only.
  { source: 'lambda/shared/gateway/index.ts', outFile: 'gateway.js' },
  // The DynamoDB, SQS and S3 clients, for Message Batches on AWS (PROXY_BATCH_TABLE …) only.
  { source: 'lambda/shared/batches/index.ts', outFile: 'batches.js' },
  // The embedded mock model (PROXY_UPSTREAM=mock, or a catalogue entry with upstream `mock`) likewise.
  { source: 'lambda/streaming-proxy/upstream/mock.ts', outFile: 'mock.js' },
];

/**
 * CloudFront Functions (cloudfront-js-2.0) run a plain script with a top-level `handler` function: no module system, no
 * minified renaming of `handler`. The IIFE exposes the module as `globalName`; the footer is the top-level `handler`
 * that CloudFront calls. The runtime lists no for-of loop, so esbuild's helpers must not use one.
 */
function cloudFrontFunction(globalName: string): EntryOverride {
  return {
    options: {
      format: 'iife',
      globalName,
      minify: false,
      target: 'es2020',
      supported: { 'for-of': false },
      platform: 'neutral',
      footer: { js: `function handler(event) {\n  return ${globalName}.handler(event);\n}` },
    },
  };
}

const ENTRY_OVERRIDES: Record<string, EntryOverride> = {
  'streaming-proxy': { lazyModules: PROXY_RUNTIME_LAZY_MODULES },
  'batch-worker': { lazyModules: PROXY_RUNTIME_LAZY_MODULES },
  'spa-router': cloudFrontFunction('spaRouter'),
  'forwarded-host': cloudFrontFunction('forwardedHost'),
};

function entries(): { name: string; entry: string; out: string; options: esbuild.BuildOptions }[] {
  const result: { name: string; entry: string; out: string; options: esbuild.BuildOptions }[] = [];
  if (!fs.existsSync(lambdaDir)) return result;
  for (const name of fs.readdirSync(lambdaDir).sort()) {
    const dir = path.join(lambdaDir, name);
    if (name === 'shared' || !fs.statSync(dir).isDirectory()) continue;
    if (name === 'dev-server') {
      const entry = path.join(dir, 'cli.ts');
      if (fs.existsSync(entry)) {
        result.push({
          name,
          entry,
          out: path.join(assetsDir, name, 'cli.js'),
          options: { target: DEV_SERVER_TARGET, banner: { js: '#!/usr/bin/env node' } },
        });
      }
      continue;
    }
    const override = ENTRY_OVERRIDES[name] ?? {};
    const entry = path.join(dir, override.entryFile ?? 'index.ts');
    if (!fs.existsSync(entry)) continue;
    const lazy = override.lazyModules ?? [];
    result.push({
      name,
      entry,
      out: path.join(assetsDir, name, override.outFile ?? 'index.js'),
      options: { ...override.options, plugins: lazy.length ? [lazyModulesPlugin(lazy)] : [] },
    });
    for (const module of lazy) {
      result.push({
        name: `${name}-${path.basename(module.outFile, '.js')}`,
        entry: path.join(root, module.source),
        out: path.join(assetsDir, name, module.outFile),
        options: {},
      });
    }
  }
  return result;
}

/**
 * Rewrites every relative import that resolves to a lazy module's source (`require('../shared/redis')`,
 * `require('../../shared/batches')`, …) to a runtime `require('./<outFile>')` of the separately built file, which sits
 * beside the entry's index.js whatever folder the importing file was in.
 */
function lazyModulesPlugin(modules: readonly LazyModule[]): esbuild.Plugin {
  const byFile = new Map<string, string>();
  for (const module of modules) {
    const file = path.join(root, module.source);
    const stem = file.replace(/\.ts$/, '');
    // `./upstream/mock`, `./upstream/mock.ts`; for an index.ts also its folder (`../shared/redis`, `../shared/redis/`).
    for (const candidate of [file, stem, ...(path.basename(stem) === 'index' ? [path.dirname(stem)] : [])]) byFile.set(candidate, module.outFile);
  }
  return {
    name: 'lazy-modules',
    setup(build) {
      build.onResolve({ filter: /^\.\.?(\/|$)/ }, (args) => {
        const outFile = byFile.get(path.resolve(args.resolveDir, args.path).replace(/\/+$/, ''));
        return outFile === undefined ? undefined : { path: `./${outFile}`, external: true };
      });
    },
  };
}

async function main(): Promise<void> {
  fs.mkdirSync(metaDir, { recursive: true });
  const list = entries();
  // Clear each entry's folder only (not assets/ as a whole), so a stale file never ships and parallel builds of
  // other entries are not disturbed.
  for (const dir of new Set(list.map(({ out }) => path.dirname(out)))) fs.rmSync(dir, { recursive: true, force: true });
  await Promise.all(
    list.map(async ({ name, entry, out, options }) => {
      const started = Date.now();
      const result = await esbuild.build({
        entryPoints: [entry],
        outfile: out,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: LAMBDA_TARGET,
        minify: true,
        keepNames: false,
        sourcemap: false,
        legalComments: 'linked',
        metafile: true,
        logLevel: 'warning',
        // Optional peer modules that some SDKs probe for and that are never used here.
        external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
        ...options,
      });
      fs.writeFileSync(path.join(metaDir, `${name}.json`), JSON.stringify(result.metafile));
      if (name === 'dev-server') fs.chmodSync(out, 0o755);
      const size = fs.statSync(out).size;
      console.log(`bundled ${path.relative(root, entry)} -> ${path.relative(root, out)} (${(size / 1024).toFixed(1)} KiB, ${Date.now() - started} ms)`);
    }),
  );
  if (list.length === 0) console.log('no lambda/<name>/index.ts entries to bundle');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
