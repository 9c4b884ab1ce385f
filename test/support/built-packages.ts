/**
 * The packages `npx projen package-all` builds into dist/ (the npm tarball, the Python wheel, the Maven repository),
 * for tests that use the library the way a consumer does. `test:all` packages before it runs jest, so these are
 * normally reused; when one is missing or older than the compiled assembly (.jsii), it is built here with the same
 * projen task, so a test run on its own never uses a stale package.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
export const LIB_VERSION: string = pkg.version;
const MAVEN_GROUP: string = pkg.jsii.targets.java.maven.groupId;
const MAVEN_ARTIFACT: string = pkg.jsii.targets.java.maven.artifactId;

export type Target = 'js' | 'python' | 'java';

/** The file that proves a target is built (its mtime is compared with .jsii). */
function artifact(target: Target): string {
  switch (target) {
    case 'js': return path.join(ROOT, 'dist', 'js', `${pkg.name}@${LIB_VERSION}.jsii.tgz`);
    case 'python': return path.join(ROOT, 'dist', 'python', `${pkg.jsii.targets.python.module}-${LIB_VERSION}-py3-none-any.whl`);
    case 'java': return path.join(ROOT, 'dist', 'java', ...MAVEN_GROUP.split('.'), MAVEN_ARTIFACT, LIB_VERSION, `${MAVEN_ARTIFACT}-${LIB_VERSION}.jar`);
  }
}

/** The built package of a target (a path in dist/), built first with `npx projen package:<target>` if missing or stale. */
export function builtPackage(target: Target): string {
  const assembly = path.join(ROOT, '.jsii');
  if (!fs.existsSync(assembly)) {
    throw new Error('no .jsii in the repository root: run `npx projen compile` (test:all does) before this test');
  }
  const file = artifact(target);
  if (fs.existsSync(file) && fs.statSync(file).mtimeMs >= fs.statSync(assembly).mtimeMs) return file;
  const env = { ...process.env, JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION: '1', JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] };
  const result = spawnSync('npx', ['projen', `package:${target}`], { cwd: ROOT, env, encoding: 'utf8', timeout: 240_000 });
  if (result.status !== 0 || !fs.existsSync(file)) {
    throw new Error(`npx projen package:${target} failed (status ${result.status}):\n${(result.stderr ?? '').slice(-3000)}`);
  }
  return file;
}
