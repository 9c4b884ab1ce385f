/**
 * Runs bundled CloudFront Function code the way cloudfront-js-2.0 does (a plain script in a fresh context, no `require`,
 * no `module`, then the top-level `handler(event)`), on CloudFront's viewer-request event shape, and turns the request
 * it returns into the headers CloudFront sends a Lambda function URL or API Gateway origin under the
 * `AllViewerExceptHostHeader` origin request policy.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import * as ts from 'typescript';

/** A header in a CloudFront Functions event: `{ value }`, with `multiValue` when the viewer sent it more than once. */
export interface CfHeader {
  value: string;
  multiValue?: CfHeader[];
}

/** A CloudFront Functions viewer-request event (version 1.0). */
export interface ViewerRequestEvent {
  version: '1.0';
  context: { distributionDomainName: string; distributionId: string; eventType: 'viewer-request'; requestId: string };
  viewer: { ip: string };
  request: {
    method: string;
    uri: string;
    querystring: Record<string, CfHeader>;
    headers: Record<string, CfHeader>;
    cookies: Record<string, CfHeader>;
  };
}

export type ViewerRequestHandler = (event: ViewerRequestEvent) => ViewerRequestEvent['request'];

/** The distribution's own name in the events built here. */
export const DISTRIBUTION_DOMAIN = 'd111111abcdef8.cloudfront.net';

/** The bundle of `lambda/<name>` (built by `npx projen bundle`). */
export function bundledFunctionSource(name: string): string {
  const file = path.join(__dirname, '..', '..', 'assets', name, 'index.js');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npx projen bundle\` first.`);
  return fs.readFileSync(file, 'utf8');
}

/** Loads function code (a bundle, or a template's `FunctionCode`) as cloudfront-js-2.0 does and returns its `handler`. */
export function loadFunction(code: string, filename = 'function.js'): ViewerRequestHandler {
  const context = vm.createContext({});
  vm.runInContext(code, context, { filename });
  const handler = context.handler;
  if (typeof handler !== 'function') throw new Error(`${filename} defines no top-level handler function`);
  return handler as ViewerRequestHandler;
}

/** A viewer request as CloudFront hands it to a viewer-request function: lower-case header names, `{ value }` objects. */
export function viewerRequest(method: string, uri: string, headers: Record<string, string | string[]>): ViewerRequestEvent {
  const cf: Record<string, CfHeader> = {};
  for (const [name, value] of Object.entries(headers)) {
    const values = Array.isArray(value) ? value : [value];
    cf[name.toLowerCase()] = values.length > 1 ? { value: values[0], multiValue: values.map((v) => ({ value: v })) } : { value: values[0] };
  }
  return {
    version: '1.0',
    context: { distributionDomainName: DISTRIBUTION_DOMAIN, distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: 'r-1' },
    viewer: { ip: '198.51.100.11' },
    request: { method, uri, querystring: {}, headers: cf, cookies: {} },
  };
}

/**
 * The headers of the origin request CloudFront makes from the (function-processed) viewer request with
 * `AllViewerExceptHostHeader`: every viewer header except Host, and Host set to the origin's domain name.
 */
export function originRequestHeaders(request: ViewerRequestEvent['request'], originHost: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, header] of Object.entries(request.headers)) {
    if (name === 'host') continue;
    out[name] = header.multiValue ? header.multiValue.map((h) => h.value).join(',') : header.value;
  }
  out.host = originHost;
  return out;
}

/**
 * What a script uses that the cloudfront-js-2.0 runtime does not document (for-of, spread, classes, destructuring,
 * optional chaining, `??`, module syntax), and the names of its top-level function declarations (CloudFront calls the
 * one named `handler`).
 */
export function cloudFrontScriptCheck(source: string): { readonly forbidden: string[]; readonly topLevelFunctions: (string | undefined)[] } {
  const file = ts.createSourceFile('function.js', source, ts.ScriptTarget.ES2020, true, ts.ScriptKind.JS);
  const forbidden: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isForOfStatement(node)) forbidden.push('for-of');
    if (ts.isSpreadElement(node) || ts.isSpreadAssignment(node)) forbidden.push('spread');
    if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) forbidden.push('class');
    if (ts.isObjectBindingPattern(node) || ts.isArrayBindingPattern(node)) forbidden.push('destructuring');
    if (node.kind === ts.SyntaxKind.QuestionDotToken) forbidden.push('optional chaining');
    if (node.kind === ts.SyntaxKind.QuestionQuestionToken) forbidden.push('??');
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node) || ts.isExportAssignment(node)) forbidden.push('module syntax');
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { forbidden, topLevelFunctions: file.statements.filter(ts.isFunctionDeclaration).map((f) => f.name?.text) };
}
