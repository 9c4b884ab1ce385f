import { awscdk, javascript, JsonFile } from 'projen';

/**
 * cdk-serverless-llm: all build configuration lives here. Never hand-edit the files projen generates
 * (package.json, tsconfig*.json, .projen/*, .gitignore, .npmignore, workflows); change this file and run `npx projen`.
 */
const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-serverless-llm',
  description:
    'AWS CDK constructs for LLM products on Lambda: a streaming Bedrock proxy that speaks the Anthropic and OpenAI APIs, ' +
    'a private S3 + CloudFront SPA frontend, ElastiCache sessions in a VPC and a least-privilege GitHub OIDC deployer.',
  author: 'cdk-serverless-llm developers',
  authorAddress: 'maintainers@cdk-serverless-llm.dev',
  authorOrganization: true,
  license: 'Apache-2.0',
  repositoryUrl: 'https://github.com/cdk-serverless-llm/cdk-serverless-llm.git',
  homepage: 'https://github.com/cdk-serverless-llm/cdk-serverless-llm',
  keywords: ['cdk', 'aws-cdk', 'bedrock', 'llm', 'anthropic', 'openai', 'claude-code', 'lambda', 'streaming', 'cloudfront', 'elasticache', 'github-oidc'],
  stability: 'experimental',

  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,

  // The lowest aws-cdk-lib the library supports, and the one it is built and tested with. Every jsii package depends on
  // aws-cdk-lib of its own language at this version or later, and the binding smoke tests install exactly this version
  // from PyPI, Maven Central and the Go module proxy, so it must be a release all three serve on the build machines
  // (their mirrors lag npm; Maven Central's version list there ends at 2.263.0).
  cdkVersion: '2.263.0',
  constructsVersion: '10.8.1',
  jsiiVersion: '~6.0.0',

  // jsii targets. Every Lambda's code is bundled into assets/ at library build time, so no consumer bundles anything.
  publishToPypi: {
    distName: 'cdk-serverless-llm',
    module: 'cdk_serverless_llm',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkserverlessllm',
    mavenGroupId: 'io.github.cdk-serverless-llm',
    mavenArtifactId: 'cdk-serverless-llm',
  },
  publishToNuget: {
    dotNetNamespace: 'CdkServerlessLlm',
    packageId: 'CdkServerlessLlm',
  },
  publishToGo: {
    moduleName: 'github.com/cdk-serverless-llm/cdk-serverless-llm-go',
  },

  // The local dev server (`npx cdk-serverless-llm dev`) is bundled like the Lambda code and shipped in the package.
  bin: { 'cdk-serverless-llm': 'assets/dev-server/cli.js' },

  // Runtime code under lambda/ is bundled by esbuild into assets/, so everything it uses is a devDependency:
  // consumers install nothing beyond aws-cdk-lib and constructs.
  devDeps: [
    'cdk-nag@^3.0.2',
    // The CDK CLI the reference apps are synthesized with in test/examples/cli-synth.test.ts (as a user runs them).
    'aws-cdk@^2.1148.1',
    'esbuild@^0.28.2',
    '@types/aws-lambda@^8.10.164',
    '@aws-sdk/client-bedrock-runtime@^3.1163.0',
    '@aws-sdk/client-secrets-manager@^3.1162.0',
    // The gateway table (virtual keys, shared limits, spend): the runtime's store and the keys CLI.
    '@aws-sdk/client-dynamodb@^3.1178.0',
    '@aws-sdk/util-dynamodb@^3.996.9',
    // Message Batches (StreamingLlmProxy `batches`): one SQS message per request, the input and results in S3.
    '@aws-sdk/client-sqs@^3.1178.0',
    '@aws-sdk/client-s3@^3.1178.0',
    // Bedrock batch inference behind the same API (batches.batchInference): CreateModelInvocationJob and friends.
    '@aws-sdk/client-bedrock@^3.1178.0',
    '@aws-sdk/client-ssm@^3.1178.0',
    // examples/multi-service: its API service invokes the agent through the Lambda runtime's own client; the tests
    // run that client against a loopback Lambda Invoke API (test/examples/multi-service-services.test.ts).
    '@aws-sdk/client-lambda@^3.1178.0',
    '@aws-sdk/client-elasticache@^3.1127.0',
    '@aws-sdk/credential-provider-node@^3.972.97',
    '@smithy/eventstream-codec@^4.5.2',
    '@smithy/signature-v4@^5.7.5',
    '@smithy/node-http-handler@^4.14.2',
    '@smithy/protocol-http',
    '@smithy/util-utf8',
    '@aws-crypto/sha256-js@^5.2.0',
    '@aws-lambda-powertools/logger@^2.36.0',
    '@aws-lambda-powertools/metrics@^2.36.0',
    'aws-jwt-verify@^5.2.1',
    'zod@^4.6.7',
    'redis@^6.3.1',
    'fast-check@^4.10.2',
    // Parses the example GitHub workflow in test/examples/multi-service-workflow.test.ts.
    'yaml@^2.9.1',
    // Real clients are the contract: the suite runs them against the proxy (test/clients). Claude Code is pinned exactly
    // (a release every few days; `npx projen test:clients:latest` checks @latest), the SDKs at their newest.
    '@anthropic-ai/claude-code@2.1.332',
    '@anthropic-ai/sdk@^1.16.0',
    'openai@^7.59.0',
    // Codex CLI speaks only the Responses API (test/clients/codex.test.ts); pinned exactly like Claude Code.
    '@openai/codex@0.171.0',
    'playwright-core@^1.65.1',
    // The Node.js runtime interface client Lambda itself runs (test/lambda/real-runtime.test.ts runs the bundle under it).
    'aws-lambda-ric@^4.0.2',
  ],

  jestOptions: {
    // projen's default passes --updateSnapshot, which means a snapshot can never fail.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    passWithNoTests: false,
    jestConfig: {
      testTimeout: 60_000,
      // Construct tests synthesize real stacks; keep workers to the machine (2 cores).
      maxWorkers: 2,
    },
  },

  gitignore: ['/assets/', 'cdk.out/', '.venv/', '__pycache__/', '/bench/out/', '/test-output/'],
});

// npm overrides: the registry serves the non-linux bindings of unrs-resolver only at 1.12.2,
// and without this `npm ci` fails on a lockfile made on linux.
project.package.addPackageResolutions('unrs-resolver@1.12.2');
// aws-lambda-ric ships no binary: its preinstall builds curl and aws-lambda-cpp with cmake and its postinstall builds the
// native Runtime API client (rapid-client.node) with node-gyp, which the runtime cannot start without. Approve those
// scripts explicitly, so `npm ci` runs them under npm's allowScripts policy (a warning today, blocked when strict).
// Claude Code's postinstall puts its native binary (from the platform package) in place of the bin's placeholder.
project.package.addField('allowScripts', { 'aws-lambda-ric': true, '@anthropic-ai/claude-code': true });
// The Go module jsii-pacmak generates requires aws-cdk-lib's own dependencies at the versions installed here. Keep them at
// the versions aws-cdk-lib 2.263.0 was released with (the ones its Go module requires), which the Go module proxy serves.
project.package.file.addOverride('overrides.aws-cdk-lib', {
  '@aws-cdk/cloud-assembly-schema': '54.11.0',
  '@aws-cdk/asset-node-proxy-agent-v6': '2.1.2',
});

// lambda/, bench/, build-tools/ and examples/ are TypeScript compiled by ts-jest/ts-node/esbuild, not by jsii.
for (const dir of ['lambda', 'bench', 'build-tools', 'examples']) {
  // test/tsconfig.json is the dev config; its paths are relative to test/.
  project.tsconfigDev.addInclude(`../${dir}/**/*.ts`);
  project.eslint?.addLintPattern(dir);
  // Bundled (or build-time only) code may use devDependencies: esbuild inlines them into assets/.
  project.eslint?.allowDevDeps(`**/${dir}/**`);
  // typescript-eslint's project service uses the nearest tsconfig.json; give each folder one that extends the dev config.
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: { extends: '../test/tsconfig.json', include: ['./**/*.ts'], exclude: ['**/cdk.out', '**/node_modules'] },
  });
}
project.tsconfigDev.addExclude('../examples/**/cdk.out');
project.tsconfigDev.addExclude('**/node_modules');

// Sources that the npm tarball (and so every jsii package) does not need; assets/ (the bundles) must ship.
project.npmignore?.exclude('/lambda/', '/bench/', '/build-tools/', '/examples/', '/.ci/', '/docs/', '/test-output/');
project.npmignore?.include('/assets/');

// lambda/<name>/index.ts -> assets/<name>/index.js, before jsii compiles src/ (constructs point Code.fromAsset there).
const bundle = project.addTask('bundle', {
  description: 'Bundle every lambda/<name>/index.ts with esbuild into assets/<name>/',
  exec: 'ts-node --transpile-only --project test/tsconfig.json build-tools/bundle.ts',
});
project.preCompileTask.spawn(bundle);

// Type-check the code jsii does not compile (lambda/, test/, bench/, build-tools/, examples/).
const typecheck = project.addTask('typecheck', {
  description: 'Type-check lambda/, test/, bench/ and the build tools with tsc',
  exec: 'tsc --noEmit -p test/tsconfig.json',
});
project.testTask.prependSpawn(typecheck);

// .NET: there is no dotnet SDK on the build machines, so generate the C# sources only.
const dotnet = project.tasks.tryFind('package:dotnet');
if (dotnet) {
  dotnet.reset('jsii-pacmak -v --target dotnet --code-only');
}

// Bindings: build the Python wheel, Java jar and Go module, then synthesize a stack with the built Python wheel.
const testBindings = project.addTask('test:bindings', {
  description: 'Package every jsii target and synthesize apps with the built Python, Java and Go packages',
  exec: 'bash test/bindings/run.sh',
});

// The whole suite: build (bundle, jsii, docgen, jest, eslint, npm package), every language package, binding smoke tests.
const testAll = project.addTask('test:all', {
  description: 'Everything CI runs: build, jest, eslint, all jsii packages and the binding smoke tests',
});
// First, one clear message when a machine prerequisite is missing (instead of a cascade of test failures).
testAll.exec('bash scripts/install-test-prereqs.sh --check');
// The build steps one by one (build's own `package` step would package every language again outside CI), with every
// language's package built once, before jest: the tests that use the library as a consumer does (the Python and Java
// apps under the CDK CLI, the npm consumer app) reuse dist/ instead of packaging again (test/support/built-packages.ts).
for (const step of ['default', 'pre-compile', 'compile', 'post-compile', 'package-all', 'test']) {
  testAll.spawn(project.tasks.tryFind(step)!);
}
testAll.spawn(testBindings);

// Real clients as the contract: Claude Code, the SDKs (and Codex CLI) against the dev server, on the mock and through the
// fake Bedrock. They run in `test` with everything else; these run just them, or them against @latest of each client.
project.addTask('test:clients', {
  description: 'Run the real-client tests (Claude Code CLI, SDKs) and the Claude Code fixture translation test',
  exec: 'jest --coverage=false test/clients test/lambda/claude-code-fixtures.test.ts',
  receiveArgs: true,
});
project.addTask('test:clients:latest', {
  description: 'Install @latest of every client without saving it, and run the real-client tests against it (npm ci restores the pins)',
  exec: 'bash test/clients/run-latest.sh',
  receiveArgs: true,
});
project.addTask('record:claude-code', {
  description: 'Record the installed Claude Code version\'s first request in first-party and Bedrock mode into test/fixtures/claude-code/',
  exec: 'ts-node --transpile-only --project test/tsconfig.json test/clients/record-claude-code.ts',
});

// The local proxy on its embedded mock model (the README's main command).
project.addTask('dev', {
  description: 'Run the local proxy dev server on the mock upstream',
  exec: 'node assets/dev-server/cli.js dev',
  receiveArgs: true,
});

project.synth();
