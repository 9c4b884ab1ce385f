/**
 * examples/multi-service/.github/workflows/deploy.yml, the workflow a user copies: build -> push -> deploy, with the
 * rollback through the `live` aliases, and every `aws` / `docker` command naming what the app's stacks create and
 * allowed by what the deploy role is granted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { parse } from 'yaml';
import { buildApp, NAMES } from '../../examples/multi-service/app';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'multi-service');
const workflow = parse(fs.readFileSync(path.join(EXAMPLE, '.github', 'workflows', 'deploy.yml'), 'utf8'));

interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly if?: string;
  readonly with?: Record<string, string>;
}
const steps = (job: string): Step[] => workflow.jobs[job].steps;
const runOf = (job: string) => steps(job).map((s) => s.run ?? '').join('\n');

/** The `aws …` and `docker …` commands of a script, one per entry (also those inside `$(…)` and after a pipe). */
function commands(script: string): string[] {
  const found: string[] = [];
  for (const line of script.split('\n')) {
    for (const match of line.matchAll(/(?:^|\$\(|\|\s*|&&\s*)\s*((?:aws|docker) [^|)]*)/g)) found.push(match[1].trim());
  }
  return found;
}

let templates: Record<string, any>;
beforeAll(() => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'multi-service-workflow-'));
  const assembly = buildApp(new App({ outdir })).synth();
  templates = Object.fromEntries(assembly.stacks.map((s) => [s.stackName, s.template]));
}, 240_000);

const resources = (stack: string, type: string) => Object.entries<any>(templates[stack].Resources).filter(([, r]) => r.Type === type);

describe('multi-service: the GitHub deploy workflow', () => {
  test('runs build, then push, then deploy; only the jobs that need AWS get an OIDC token, in the production environment', () => {
    expect(Object.keys(workflow.jobs)).toEqual(['build', 'push', 'deploy']);
    expect(workflow.jobs.build.needs).toBeUndefined();
    expect(workflow.jobs.push.needs).toBe('build');
    expect(workflow.jobs.deploy.needs).toBe('push');
    expect(workflow.jobs.build.permissions).toEqual({ contents: 'read' });
    for (const job of ['push', 'deploy']) {
      expect(workflow.jobs[job].environment).toBe('production');
      expect(workflow.jobs[job].permissions).toEqual({ 'id-token': 'write', 'contents': 'read' });
      const credentials = steps(job).find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))!;
      expect(credentials.with).toEqual({ 'role-to-assume': '${{ vars.DEPLOY_ROLE_ARN }}', 'aws-region': '${{ env.AWS_REGION }}' });
    }
    expect(runOf('build')).toMatch(/docker build/);
    expect(commands(runOf('build')).some((c) => c.startsWith('aws '))).toBe(false);
    expect(runOf('push')).toMatch(/docker push/);
    expect(runOf('deploy')).not.toMatch(/docker /);
  });

  test('deploys through the live alias: records the previous version, publishes, moves the alias, smoke-checks /api/health, rolls back on failure', () => {
    const deploy = steps('deploy').filter((s) => s.run);
    const index = (pattern: RegExp) => deploy.findIndex((s) => pattern.test(s.run!));
    const record = index(/aws lambda get-alias/);
    const publish = index(/aws lambda publish-version/);
    const move = index(/aws lambda update-alias .*steps\.publish\.outputs/);
    const smoke = index(/\/api\/health/);
    const rollback = deploy.findIndex((s) => /failure\(\)/.test(s.if ?? ''));
    expect([record, publish, move, smoke, rollback].every((i) => i >= 0)).toBe(true);
    expect(record).toBeLessThan(publish);
    expect(publish).toBeLessThan(move);
    expect(move).toBeLessThan(smoke);
    expect(smoke).toBeLessThan(rollback);
    expect(rollback).toBe(deploy.length - 1);
    expect(deploy[record].id).toBe('previous');
    expect(deploy[publish].id).toBe('publish');
    // The smoke check fails unless the health answer names the version just published.
    expect(deploy[smoke].run).toMatch(/jq -r \.agentVersion\)" = "\$\{\{ steps\.publish\.outputs\.agent \}\}"/);
    expect(deploy[smoke].run).toMatch(/exit 1/);
    // The rollback moves each alias back to the version recorded before the deploy.
    const back = commands(deploy[rollback].run!);
    expect(back).toEqual([
      `aws lambda update-alias --function-name ${NAMES.functions.agent} --name live --function-version "\${{ steps.previous.outputs.agent }}" --output none`,
      `aws lambda update-alias --function-name ${NAMES.functions.triage} --name live --function-version "\${{ steps.previous.outputs.triage }}" --output none`,
    ]);
    // Every function whose alias moves forward is recorded first and moved back.
    for (const fn of [NAMES.functions.agent, NAMES.functions.triage]) {
      expect(deploy[record].run).toContain(`--function-name ${fn} --name live`);
      expect(deploy[move].run).toContain(`--function-name ${fn} --name live`);
    }
  });

  test('every aws and docker command names what the stacks create, and the deploy role may run it', () => {
    const ci = templates.MultiServiceCi;
    const services = templates.MultiService;
    expect(workflow.env).toEqual({ AWS_REGION: NAMES.region, REGISTRY: `${NAMES.account}.dkr.ecr.${NAMES.region}.amazonaws.com` });
    expect(ci.Resources && services.Resources).toBeTruthy();

    const repositories = resources('MultiServiceCi', 'AWS::ECR::Repository').map(([, r]) => r.Properties.RepositoryName);
    const functions = new Map(resources('MultiService', 'AWS::Lambda::Function').map(([id, r]) => [r.Properties.FunctionName, id]));
    const aliases = resources('MultiService', 'AWS::Lambda::Alias').map(([, r]) => `${r.Properties.FunctionName.Ref}:${r.Properties.Name}`);
    const parameters = resources('MultiService', 'AWS::SSM::Parameter').map(([, r]) => r.Properties.Name);
    const granted = resources('MultiServiceCi', 'AWS::IAM::ManagedPolicy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const allowed = (action: string, resource: string) => granted.some((st: any) =>
      [].concat(st.Action).includes(action as never) && JSON.stringify(st.Resource).includes(resource));

    const all = ['build', 'push', 'deploy'].flatMap((job) => commands(runOf(job)));
    expect(all.length).toBeGreaterThan(15);
    const ACTIONS: Record<string, string> = {
      'lambda get-alias': 'lambda:GetAlias',
      'lambda update-function-code': 'lambda:UpdateFunctionCode',
      'lambda wait': 'lambda:GetFunctionConfiguration',
      'lambda publish-version': 'lambda:PublishVersion',
      'lambda update-alias': 'lambda:UpdateAlias',
      'ecr get-login-password': 'ecr:GetAuthorizationToken',
      'ssm get-parameter': 'ssm:GetParameter',
    };
    for (const command of all) {
      const words = command.split(/\s+/);
      const option = (name: string) => { const i = words.indexOf(name); return i < 0 ? undefined : words[i + 1].replace(/^"|"$/g, ''); };
      if (words[0] === 'docker') {
        for (const image of command.matchAll(/"\$REGISTRY\/([^:"]+):\$GITHUB_SHA"/g)) expect(repositories).toContain(image[1]);
        const dockerfile = option('-f');
        if (dockerfile) {
          expect(fs.existsSync(path.join(EXAMPLE, dockerfile))).toBe(true);
          expect(words[words.length - 1]).toBe('services');
        }
        expect(['build', 'save', 'load', 'login', 'push']).toContain(words[1]);
        continue;
      }
      const subcommand = `${words[1]} ${words[2]}`;
      const action = ACTIONS[subcommand];
      expect({ command, action }).toEqual({ command, action: expect.any(String) });
      const fn = option('--function-name');
      if (words[1] === 'lambda') {
        expect(functions.has(fn)).toBe(true);
        expect(allowed(action, `function:${fn}`)).toBe(true);
        if (words[2].includes('alias')) {
          expect(option('--name')).toBe(NAMES.alias);
          expect(aliases).toContain(`${functions.get(fn)}:${NAMES.alias}`);
        }
        const image = /--image-uri "\$REGISTRY\/([^:"]+):\$GITHUB_SHA"/.exec(command);
        if (words[2] === 'update-function-code') expect(repositories).toContain(image![1]);
      }
      if (words[1] === 'ssm') {
        expect(parameters).toContain(option('--name'));
        expect(allowed(action, `parameter${option('--name')}`)).toBe(true);
      }
      if (words[1] === 'ecr') expect(allowed(action, '*')).toBe(true);
    }
  });
});
