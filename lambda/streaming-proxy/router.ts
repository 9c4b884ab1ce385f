/**
 * Routes on the path suffix, so a prefix such as `/api` (CloudFront) or an API Gateway stage/resource prefix is ignored.
 */
import type { Protocol } from './errors';

export type RouteName =
  | 'messages' | 'count_tokens' | 'chat_completions' | 'responses' | 'embeddings' | 'models' | 'model' | 'health'
  | 'batches' | 'batch' | 'batch_cancel' | 'batch_results';

export type RouteMatch =
  | {
    readonly route: RouteName;
    readonly allowed: boolean;
    readonly methods: readonly string[];
    readonly modelId?: string;
    /** The batch id of the /v1/messages/batches/{id}… routes. */
    readonly batchId?: string;
  }
  | undefined;

const ROUTES: ReadonlyArray<{ suffix: string; route: RouteName; methods: readonly string[] }> = [
  { suffix: '/v1/messages/batches', route: 'batches', methods: ['GET', 'HEAD', 'POST'] },
  { suffix: '/v1/messages/count_tokens', route: 'count_tokens', methods: ['POST'] },
  { suffix: '/v1/messages', route: 'messages', methods: ['POST'] },
  { suffix: '/v1/chat/completions', route: 'chat_completions', methods: ['POST'] },
  { suffix: '/v1/responses', route: 'responses', methods: ['POST'] },
  { suffix: '/v1/embeddings', route: 'embeddings', methods: ['POST'] },
  { suffix: '/v1/models', route: 'models', methods: ['GET', 'HEAD'] },
  { suffix: '/health', route: 'health', methods: ['GET', 'HEAD'] },
];

const MODEL_PATH = /\/v1\/models\/([^/]+)$/;
const BATCH_PATH = /\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/;
const BATCH_ROUTES: Record<string, { route: RouteName; methods: readonly string[] }> = {
  '': { route: 'batch', methods: ['GET', 'HEAD', 'DELETE'] },
  '/cancel': { route: 'batch_cancel', methods: ['POST'] },
  '/results': { route: 'batch_results', methods: ['GET', 'HEAD'] },
};

/** The route for a method and path; `allowed` is false when the path exists but not for this method. */
export function matchRoute(method: string, rawPath: string): RouteMatch {
  const path = rawPath.length > 1 ? rawPath.replace(/\/+$/, '') : rawPath;
  for (const { suffix, route, methods } of ROUTES) {
    if (path.endsWith(suffix)) return { route, methods, allowed: methods.includes(method) };
  }
  const batch = BATCH_PATH.exec(path);
  if (batch) {
    const { route, methods } = BATCH_ROUTES[batch[2] ?? ''];
    return { route, methods, allowed: methods.includes(method), batchId: decodeSegment(batch[1]) };
  }
  const model = MODEL_PATH.exec(path);
  if (model) {
    return { route: 'model', methods: ['GET', 'HEAD'], allowed: method === 'GET' || method === 'HEAD', modelId: decodeSegment(model[1]) };
  }
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Which protocol a request speaks, for routes shared by both (models, unknown paths): Anthropic by default; OpenAI when
 * asked with `?format=openai`, or with the OpenAI clients' conventions (a bearer token and no `anthropic-version`).
 */
export function detectProtocol(route: RouteName | undefined, headers: Readonly<Record<string, string>>, query: URLSearchParams): Protocol {
  if (route === 'messages' || route === 'count_tokens' || route?.startsWith('batch')) return 'anthropic';
  if (route === 'chat_completions' || route === 'responses' || route === 'embeddings') return 'openai';
  const format = query.get('format');
  if (format === 'openai' || format === 'anthropic') return format;
  if (headers['anthropic-version'] || headers['x-api-key']) return 'anthropic';
  if (/^bearer\s/i.test(headers.authorization ?? '')) return 'openai';
  return 'anthropic';
}
