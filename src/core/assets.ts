import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The folder that holds the bundle of `lambda/<name>/`, built by `npx projen bundle` at library build time and shipped
 * in the package (lib/core/assets.js and src/core/assets.ts both sit two levels below the package root).
 *
 * @internal
 */
export function bundledAssetPath(name: string): string {
  const dir = path.join(__dirname, '..', '..', 'assets', name);
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    throw new Error(
      `The bundled code for '${name}' is missing at ${dir}. ` +
      'It is built with the library: run `npx projen bundle` (or `npx projen build`) in a checkout of cdk-serverless-llm, ' +
      'or reinstall the package.',
    );
  }
  return dir;
}

/**
 * Lambda code for a bundled function. Asset hashing is by content, so every code change produces a new asset hash
 * and therefore a new deployment.
 *
 * @internal
 */
export function bundledCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(bundledAssetPath(name));
}

/**
 * The source of a bundled CloudFront Function (a plain script, inlined into the template).
 *
 * @internal
 */
export function bundledSource(name: string): string {
  return fs.readFileSync(path.join(bundledAssetPath(name), 'index.js'), 'utf8');
}
