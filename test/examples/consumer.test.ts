/**
 * The library the way a new user meets it: the README's "Use it in your app" steps, as written, in a fresh folder
 * outside the repository — `npm install` of the packed library (the tarball `npx projen package:js` builds, named
 * instead of `cdk-serverless-llm` as the README says until it is published) with aws-cdk-lib and constructs from the
 * registry, the README's `bin/app.ts`, and the CDK CLI's synth with no AWS credentials. If the README's commands or its
 * stack drift from what works, this fails.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtPackage, ROOT } from '../support/built-packages';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The README's "Use it in your app" section. */
function useItSection(): string {
  const match = /<!-- section:use-it -->([\s\S]*?)<!-- \/section:use-it -->/.exec(readme);
  if (!match) throw new Error('README.md has no use-it section');
  return match[1];
}

/** The TypeScript part of the section: its set-up commands, the stack, and the synth command, in that order. */
function typescriptSteps(): { setup: string; app: string; synth: string } {
  const section = useItSection();
  const typescript = section.slice(section.indexOf('**TypeScript.**'), section.indexOf('**Python.**'));
  const blocks = [...typescript.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], body: m[2] }));
  expect(blocks.map((b) => b.lang)).toEqual(['bash', 'ts', 'bash']);
  return { setup: blocks[0].body, app: blocks[1].body, synth: blocks[2].body };
}

/** No AWS credentials, profile or CDK settings; a fresh home; npm's own cache (offline copies are fine). */
function consumerEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^AWS_/.test(name) && !/^CDK_/.test(name) && !/^npm_/i.test(name)) env[name] = value;
  }
  return {
    ...env,
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'),
    AWS_EC2_METADATA_DISABLED: 'true',
    npm_config_cache: path.join(os.homedir(), '.npm'),
    npm_config_prefer_offline: 'true',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
  };
}

describe('README "Use it in your app": a fresh TypeScript app with the packed library', () => {
  test('the section keeps the install command, the tsx toolchain and a Node version', () => {
    const section = useItSection();
    expect(section).toContain('npm install cdk-serverless-llm aws-cdk-lib constructs');
    expect(section).toContain('"app": "npx tsx bin/app.ts"');
    expect(section).toMatch(/Node\.js 20 or later/);
    // The section sits right after the two commands, which stay as they are.
    expect(readme.indexOf('<!-- section:use-it -->')).toBeGreaterThan(readme.indexOf('## The two commands'));
    expect(readme.indexOf('<!-- section:use-it -->')).toBeLessThan(readme.indexOf('## StreamingLlmProxy'));
  });

  test('installs the tarball with aws-cdk-lib and constructs from the registry and synthesizes with the CDK CLI, offline', () => {
    const tarball = builtPackage('js');
    const { setup, app, synth } = typescriptSteps();
    const install = 'npm install cdk-serverless-llm aws-cdk-lib constructs';
    expect(setup).toContain(install);
    expect(setup).toMatch(/^mkdir my-llm-app && cd my-llm-app$/m);

    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-app-'));
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-home-'));
    try {
      const env = consumerEnv(home);
      const run = (script: string, cwd: string) => {
        const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: 300_000, maxBuffer: 256 * 1024 * 1024 });
        expect({ status: result.status, output: result.status === 0 ? '' : `${result.stdout.slice(-2000)}\n${result.stderr.slice(-4000)}` }).toEqual({ status: 0, output: '' });
        return result;
      };
      // The README's set-up, with the tarball named instead of the package name (as it says, until published).
      run(setup.replace(install, `npm install ${JSON.stringify(tarball)} aws-cdk-lib constructs`), work);
      const appDir = path.join(work, 'my-llm-app');
      fs.writeFileSync(path.join(appDir, 'bin', 'app.ts'), app);

      const pkg = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8'));
      expect(Object.keys(pkg.dependencies).sort()).toEqual(['aws-cdk-lib', 'cdk-serverless-llm', 'constructs']);
      expect(Object.keys(pkg.devDependencies).sort()).toEqual(['aws-cdk', 'tsx']);
      // What a consumer gets needs nothing at synth time beyond aws-cdk-lib and constructs (the Lambda code is bundled).
      const installed = JSON.parse(fs.readFileSync(path.join(appDir, 'node_modules', 'cdk-serverless-llm', 'package.json'), 'utf8'));
      expect(Object.keys(installed.dependencies ?? {})).toEqual([]);

      run(synth, appDir);
      const template = JSON.parse(fs.readFileSync(path.join(appDir, 'cdk.out', 'LlmProxy.template.json'), 'utf8'));
      const functions = Object.values<{ Type: string; Properties: { Handler?: string; Runtime?: string } }>(template.Resources)
        .filter((r) => r.Type === 'AWS::Lambda::Function');
      expect(functions.length).toBeGreaterThan(0);
      expect(functions.map((f) => f.Properties.Runtime)).toContain('nodejs24.x');
      const types = Object.values<{ Type: string }>(template.Resources).map((r) => r.Type);
      expect(types).toEqual(expect.arrayContaining(['AWS::Lambda::Url', 'AWS::Lambda::Alias', 'AWS::SecretsManager::Secret']));
      expect(Object.keys(template.Outputs ?? {})).toContain('ProxyUrl');
      // No lookup was needed: the CLI wrote no cdk.context.json.
      expect(fs.existsSync(path.join(appDir, 'cdk.context.json'))).toBe(false);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
      fs.rmSync(home, { recursive: true, force: true });
    }
  }, 600_000);
});
