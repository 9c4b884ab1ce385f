import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The text between `<!-- section:NAME -->` and `<!-- /section:NAME -->` in the README. */
function section(name: string): string {
  const match = new RegExp(`<!-- section:${name} -->([\\s\\S]*?)<!-- /section:${name} -->`).exec(readme);
  if (!match) throw new Error(`README.md has no ${name} section`);
  return match[1];
}

describe('README', () => {
  test('the headline example is the full-stack app\'s code (which the project type-checks and the suite synthesizes)', () => {
    const source = fs.readFileSync(path.join(ROOT, 'examples', 'full-stack', 'app.ts'), 'utf8');
    const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion readme/.exec(source)![1]
      .replace("from '../../src';", "from 'cdk-serverless-llm';");
    const block = /```ts\n([\s\S]*?)```/.exec(section('example'));
    expect(block).not.toBeNull();
    expect(block![1]).toBe(region);
    expect(region).toMatch(/new VpcRedisSessions\(/);
    expect(region).toMatch(/new StreamingLlmProxy\(/);
    expect(region).toMatch(/new SpaFrontend\(/);
    expect(region).toMatch(/new GithubOidcDeployer\(/);
  });

  test('links every example folder, each with a README', () => {
    const examples = section('examples');
    const folders = fs.readdirSync(path.join(ROOT, 'examples'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(ROOT, 'examples', d.name, 'app.ts')))
      .map((d) => d.name);
    expect(folders.sort()).toEqual(['chat-app', 'claude-code-gateway', 'full-stack', 'jwt-router', 'multi-service']);
    for (const folder of [...folders, 'python/full_stack', 'java/full-stack']) {
      expect(examples).toContain(`](examples/${folder})`);
    }
    for (const folder of folders) {
      expect(fs.existsSync(path.join(ROOT, 'examples', folder, 'README.md'))).toBe(true);
    }
  });
});
