/**
 * Builds what the benchmarks run besides the shipped bundles (assets/, made by build-tools/bundle.ts):
 * - bench/out/fake-bedrock.js: the fake Bedrock as a plain node script, so the upstream costs the same in every run;
 * - bench/out/pipe-relay.js: the relay that parses nothing (bench/pipe-relay.ts), the overhead benchmark's floor;
 * - bench/out/floor/index.js: the cold-start floor (bench/floor-entry.ts) with the settings build-tools/bundle.ts uses.
 */
import * as path from 'path';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  await esbuild.build({
    entryPoints: [path.join(root, 'test', 'support', 'fake-bedrock.ts')],
    outfile: path.join(root, 'bench', 'out', 'fake-bedrock.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
  });
  await esbuild.build({
    entryPoints: [path.join(root, 'bench', 'pipe-relay.ts')],
    outfile: path.join(root, 'bench', 'out', 'pipe-relay.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  // Same options as build-tools/bundle.ts uses for assets/<name>/index.js.
  await esbuild.build({
    entryPoints: [path.join(root, 'bench', 'floor-entry.ts')],
    outfile: path.join(root, 'bench', 'out', 'floor', 'index.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    keepNames: false,
    sourcemap: false,
    legalComments: 'linked',
    logLevel: 'warning',
    external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
  });
  console.log('built bench/out/fake-bedrock.js, bench/out/pipe-relay.js and bench/out/floor/index.js');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
