/**
 * The reference apps the way a user runs them: the CDK CLI itself (the pinned `aws-cdk` devDependency, what
 * `npx aws-cdk@2 synth` runs) in each example's folder, with no AWS credentials in the environment. No app needs a
 * context lookup (VpcRedisSessions takes its zones from Fn::GetAZs unless told otherwise) and no folder commits a
 * cdk.context.json: synthesis must succeed offline and leave no file git does not already ignore or track.
 *
 * The Python and Java apps run the steps of their README.md as written (the `<!-- steps:LANG -->` block, in bash, with
 * `npx aws-cdk@2` answered by the pinned CLI), in a copy of the checkout's layout (the example folder, the chat page and
 * the package the README builds into dist/), against the wheel or jar test:all has built (test/support/built-packages).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtPackage, LIB_VERSION } from '../support/built-packages';

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
    // And without a warning a user would worry about (construct annotations, the CLI's template validation).
    expect(result.stderr.split('\n').filter((line) => /warn/i.test(line))).toEqual([]);
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

/** The commands of a README's `<!-- steps:NAME -->` block. */
function readmeSteps(readme: string, name: string): string {
  const text = fs.readFileSync(readme, 'utf8');
  const match = new RegExp(`<!-- steps:${name} -->\\s*\`\`\`bash\\n([\\s\\S]*?)\`\`\`\\s*<!-- /steps:${name} -->`).exec(text);
  if (!match) throw new Error(`${readme} has no steps:${name} block`);
  return match[1];
}

/** A folder on PATH whose `npx` runs the pinned CDK CLI for `npx aws-cdk@2 …` and the real npx for anything else. */
function npxShim(): string {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'npx-shim-'));
  const realNpx = spawnSync('bash', ['-c', 'command -v npx'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(bin, 'npx'), [
    '#!/usr/bin/env bash',
    `if [ "\${1:-}" = "aws-cdk@2" ]; then shift; exec "${CDK}" "$@"; fi`,
    `exec "${realNpx}" "$@"`,
    '',
  ].join('\n'), { mode: 0o755 });
  return bin;
}

/** Every file below a folder, relative to it, leaving out the (large) folders named. */
function listFiles(dir: string, skip: string[] = []): string[] {
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (skip.includes(child)) files.push(`${child}/`);
        else walk(child);
      } else {
        files.push(child);
      }
    }
  };
  walk('');
  return files;
}

/** The files of `paths` (relative to the repository) that the repository's .gitignore does not ignore. */
function notIgnored(paths: string[]): string[] {
  if (paths.length === 0) return [];
  const result = spawnSync('git', ['check-ignore', '--no-index', '--verbose', '--non-matching', '--stdin'], { cwd: ROOT, input: paths.join('\n'), encoding: 'utf8' });
  return result.stdout.split('\n').filter((line) => line.startsWith('::')).map((line) => line.replace(/^::\s*/, ''));
}

/** A read-only view of a Maven repository without one group, so that only dist/java can supply the library. */
function mavenCacheView(cache: string, view: string, group: string[]): void {
  fs.mkdirSync(view, { recursive: true });
  if (!fs.existsSync(cache)) return;
  for (const entry of fs.readdirSync(cache)) {
    if (entry !== group[0]) fs.symlinkSync(path.join(cache, entry), path.join(view, entry));
    else if (group.length > 1) mavenCacheView(path.join(cache, entry), path.join(view, entry), group.slice(1));
  }
}

interface BindingApp {
  readonly lang: 'python' | 'java';
  /** The example folder, relative to the repository. */
  readonly folder: string;
  /** The folder of dist/ the README's package step builds. */
  readonly dist: string;
}

const BINDING_APPS: BindingApp[] = [
  { lang: 'python', folder: 'examples/python/full_stack', dist: 'dist/python' },
  { lang: 'java', folder: 'examples/java/full-stack', dist: 'dist/java' },
];

describe('the Python and Java apps: their README steps as written, with the CDK CLI, offline', () => {
  test('requirements.txt installs the version of the wheel the repository builds', () => {
    const requirements = fs.readFileSync(path.join(ROOT, 'examples/python/full_stack/requirements.txt'), 'utf8');
    expect(requirements).toMatch(/^--find-links \.\.\/\.\.\/\.\.\/dist\/python$/m);
    expect(requirements).toContain(`\ncdk-serverless-llm==${LIB_VERSION}\n`);
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/python/full_stack/cdk.json'), 'utf8')).app).toBe('.venv/bin/python app.py');
  });

  test.each(BINDING_APPS)('$folder', ({ lang, folder, dist }) => {
    builtPackage(lang);
    const steps = readmeSteps(path.join(ROOT, folder, 'README.md'), lang);
    expect(steps).toMatch(new RegExp(`^cd ${folder}$`, 'm'));
    expect(steps).toMatch(/^npx aws-cdk@2 synth$/m);
    const before = untracked(path.join(ROOT, folder));

    // The checkout's layout: the example, the chat page it serves (../../chat-web/web) and the built package.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `cli-synth-${lang}-`));
    fs.cpSync(path.join(ROOT, folder), path.join(work, folder), { recursive: true });
    fs.mkdirSync(path.join(work, 'examples', 'chat-web'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'examples', 'chat-web', 'web'), path.join(work, 'examples', 'chat-web', 'web'));
    fs.mkdirSync(path.dirname(path.join(work, dist)), { recursive: true });
    fs.symlinkSync(path.join(ROOT, dist), path.join(work, dist));
    const shipped = listFiles(path.join(work, folder));

    const env: NodeJS.ProcessEnv = { ...offlineEnv(), PATH: `${npxShim()}${path.delimiter}${process.env.PATH}`, JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION: '1', JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] };
    if (lang === 'java') {
      // Maven reads ~/.m2 from the JVM's user.home (not $HOME): give it a fresh local repository, with the machine's
      // cache (without this library's group, whose 0.0.0 may be an older build) as a file repository to copy from.
      const home = path.join(work, 'maven-home');
      const group = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).jsii.targets.java.maven.groupId.split('.');
      mavenCacheView(path.join(os.homedir(), '.m2', 'repository'), path.join(work, 'm2-view'), group);
      fs.mkdirSync(path.join(home, '.m2'), { recursive: true });
      fs.writeFileSync(path.join(home, '.m2', 'settings.xml'), `<settings><profiles><profile><id>cache</id>
  <repositories><repository><id>local-cache</id><url>file://${work}/m2-view</url><snapshots><enabled>false</enabled></snapshots></repository></repositories>
  <pluginRepositories><pluginRepository><id>local-cache</id><url>file://${work}/m2-view</url></pluginRepository></pluginRepositories>
</profile></profiles><activeProfiles><activeProfile>cache</activeProfile></activeProfiles></settings>\n`);
      env.MAVEN_OPTS = `-Duser.home=${home}`;
    }
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', steps], { cwd: work, env, encoding: 'utf8', timeout: 300_000, maxBuffer: 256 * 1024 * 1024 });
    expect({ status: result.status, output: result.status === 0 ? '' : `${result.stdout.slice(-2000)}\n${result.stderr.slice(-4000)}` }).toEqual({ status: 0, output: '' });

    const template = JSON.parse(fs.readFileSync(path.join(work, folder, 'cdk.out', 'FullStack.template.json'), 'utf8'));
    const types = new Set(Object.values<{ Type: string }>(template.Resources).map((r) => r.Type));
    for (const type of ['AWS::Lambda::Function', 'AWS::ElastiCache::ReplicationGroup', 'AWS::CloudFront::Distribution', 'AWS::IAM::OIDCProvider', 'AWS::EC2::VPC']) {
      expect(types).toContain(type);
    }
    // What the steps left in the folder is ignored by git (.venv/, cdk.out/, Maven's target/), e.g. no cdk.context.json.
    const added = listFiles(path.join(work, folder), ['.venv', 'cdk.out', 'target']).filter((f) => !shipped.includes(f));
    expect(notIgnored(added.map((f) => `${folder}/${f}`))).toEqual([]);
    expect(untracked(path.join(ROOT, folder))).toBe(before);
    fs.rmSync(work, { recursive: true, force: true });
  }, 600_000);
});
