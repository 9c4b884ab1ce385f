/**
 * The parse and resolve stages: the JSON body (400 when it is not an object of JSON), and the catalogue entry for the
 * model a request names (404 when it is not there, 400 when it is the wrong kind for the endpoint).
 */
import { ProxyError } from '../errors';
import type { ModelCatalogue } from '../pipeline';
import type { ModelKind, ResolvedModel } from '../upstream/types';
import { parseJsonBody } from '../validation';
import type { Exchange } from './exchange';

export interface ResolveStage {
  parseBody(x: Exchange): unknown;
  /** The model a request names, set on the exchange for the metering record and the policy stage. */
  resolve(x: Exchange, name: string, kind?: ModelKind): ResolvedModel;
}

export function createResolveStage(catalogue: ModelCatalogue): ResolveStage {
  function resolve(x: Exchange, name: string, kind: ModelKind = 'chat'): ResolvedModel {
    const model = catalogue.resolve(name);
    if (!model) {
      throw new ProxyError('not_found', 'model: the model is not in this proxy\'s catalogue; GET /v1/models lists the available models.', {
        param: 'model', code: 'model_not_found',
      });
    }
    x.model = model;
    if ((model.kind ?? 'chat') !== kind) {
      throw new ProxyError('invalid_request', kind === 'chat'
        ? `model: ${name} is an embedding model; send it to POST /v1/embeddings.`
        : `model: ${name} is a chat model, served by POST /v1/chat/completions and POST /v1/messages; POST /v1/embeddings takes an embedding model (GET /v1/models marks them with kind "embedding").`,
      { param: 'model', code: 'model_not_supported' });
    }
    return model;
  }

  function parseBody(x: Exchange): unknown {
    const parsed = parseJsonBody(x.request.body);
    if (!parsed.ok) throw new ProxyError('invalid_request', parsed.message);
    return parsed.value;
  }

  return { parseBody, resolve };
}
