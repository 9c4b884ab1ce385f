/**
 * Assembles bench/RESULTS.md from the sections the benchmarks wrote to bench/out/ (run by bench/run.sh).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { machine, OUT, ROOT } from './lib';

const SECTIONS = ['overhead', 'gateway', 'instructions', 'upstream-layer', 'translation', 'coldstart', 'memory', 'load', 'synth-streaming-llm-proxy', 'synth-examples'];

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const parts = [
  '# Benchmark results',
  '',
  'Made by `bash bench/run.sh` (which bundles `assets/`, builds the fake Bedrock and the cold-start floor, runs each',
  'benchmark in `bench/`, then this report). Each benchmark also runs on its own, e.g.',
  '`node -r ts-node/register/transpile-only bench/overhead.ts`; its file explains what it measures.',
  '',
  `Commit ${commit()}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. ${machine()}.`,
  '',
];
for (const name of SECTIONS) {
  const file = path.join(OUT, `${name}.md`);
  parts.push(fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : `## ${name}\n\n(not run)`, '');
}
fs.writeFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), `${parts.join('\n').trim()}\n`);
console.log('wrote bench/RESULTS.md');
