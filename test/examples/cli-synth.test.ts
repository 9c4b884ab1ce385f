/**
 * The reference apps the way a user runs them: the CDK CLI itself (the pinned `aws-cdk` devDependency, what
 * `npx aws-cdk@2 synth` runs) in each TypeScript example's folder, with no AWS credentials in the environment. The
 * lookups the apps need are answered by each folder's committed cdk.context.json; synthesis must succeed offline and
 * leave no file git does not already ignore or track.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');
const APPS = ['full-stack', 'chat-app', 'jwt-router', 'claude-code-gateway', 'multi-service'];

/** The environment without anything that could reach AWS: no credentials, no profile, a fresh empty home. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^AWS_/.test(name) && !/^CDK_/.test(name)) env[name] = value;
  }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-home-'));
  return { ...env, HOME: home, AWS_CONFIG_FILE: path.join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'), AWS_EC2_METADATA_DISABLED: 'true' };
}

function untracked(dir: string): string {
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=all', '--', dir], { cwd: ROOT, encoding: 'utf8' });
  expect(status.status).toBe(0);
  return status.stdout.trim();
}

describe('npx aws-cdk@2 synth in each reference app folder, offline', () => {
  test.each(APPS)('examples/%s', (app) => {
    const dir = path.join(ROOT, 'examples', app);
    const before = untracked(dir);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `cdk-out-${app}-`));
    const result = spawnSync(CDK, ['synth', '--quiet', '--no-notices', '--no-version-reporting', '--output', out], {
      cwd: dir,
      env: offlineEnv(),
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect({ status: result.status, stderr: result.status === 0 ? '' : result.stderr.slice(-4000) }).toEqual({ status: 0, stderr: '' });
    const templates = fs.readdirSync(out).filter((f) => f.endsWith('.template.json'));
    expect(templates.length).toBeGreaterThan(0);
    for (const file of templates) {
      const template = JSON.parse(fs.readFileSync(path.join(out, file), 'utf8'));
      expect(Object.keys(template.Resources ?? {}).length).toBeGreaterThan(0);
    }
    // No cdk.context.json written, no cdk.out left behind: the folder is as git had it.
    expect(untracked(dir)).toBe(before);
    fs.rmSync(out, { recursive: true, force: true });
  }, 300_000);
});
