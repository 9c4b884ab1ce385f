/**
 * GET /v1/models and GET /v1/models/{id}: the configured catalogue (no Bedrock listing call), in the Anthropic shape
 * (`{data: [{type: "model", id, display_name, created_at}], has_more, first_id, last_id}`, paginated with limit /
 * after_id / before_id) or the OpenAI shape (`{object: "list", data: [{id, object: "model", created, owned_by}]}`).
 * Embedding models carry `kind: "embedding"` in both shapes (an extension field; models without it are chat models).
 */
import type { Protocol } from './errors';
import { ProxyError } from './errors';
import type { ModelEntry } from './upstream/types';

/** The catalogue carries no release dates; models are listed with this fixed timestamp. */
const LISTED_AT = '1970-01-01T00:00:00Z';

export function anthropicModel(entry: ModelEntry, id = entry.id): Record<string, unknown> {
  return { type: 'model', id, display_name: entry.displayName ?? entry.id, created_at: LISTED_AT, ...kind(entry) };
}

export function openAiModel(entry: ModelEntry, id = entry.id): Record<string, unknown> {
  return { id, object: 'model', created: 0, owned_by: owner(entry), ...kind(entry) };
}

function kind(entry: ModelEntry): { kind?: 'embedding' } {
  return entry.kind === 'embedding' ? { kind: 'embedding' } : {};
}

/** The model list for a protocol. Anthropic pagination: limit 1-1000 (default 20), after_id / before_id. */
export function listModels(entries: readonly ModelEntry[], protocol: Protocol, query: URLSearchParams): Record<string, unknown> {
  if (protocol === 'openai') return { object: 'list', data: entries.map((e) => openAiModel(e)) };
  const limitRaw = query.get('limit');
  const limit = limitRaw === null ? 20 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ProxyError('invalid_request', 'limit: must be an integer between 1 and 1000');
  }
  const afterId = query.get('after_id');
  const beforeId = query.get('before_id');
  let start = 0;
  let end = entries.length;
  if (afterId !== null) {
    const at = entries.findIndex((e) => e.id === afterId);
    if (at < 0) throw new ProxyError('invalid_request', 'after_id: not a model id from this list');
    start = at + 1;
  }
  if (beforeId !== null) {
    const at = entries.findIndex((e) => e.id === beforeId);
    if (at < 0) throw new ProxyError('invalid_request', 'before_id: not a model id from this list');
    end = at;
    start = Math.max(start, end - limit);
  }
  const page = entries.slice(start, Math.min(end, start + limit));
  return {
    data: page.map((e) => anthropicModel(e)),
    has_more: beforeId !== null ? start > 0 : start + page.length < end,
    first_id: page[0]?.id ?? null,
    last_id: page[page.length - 1]?.id ?? null,
  };
}

function owner(entry: ModelEntry): string {
  if (entry.upstream === 'openai-compatible') return 'openai-compatible';
  if (entry.upstream === 'mock') return 'mock';
  const provider = /^(?:[a-z]+-?[a-z]*\.)?([a-z0-9-]+)\./.exec(entry.target)?.[1];
  return provider ?? 'bedrock';
}
