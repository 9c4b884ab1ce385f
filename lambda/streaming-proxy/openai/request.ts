/**
 * A validated OpenAI Chat Completions body -> the canonical (Anthropic Messages) request. Pure; throws a ProxyError
 * (400, with the OpenAI `param`) for what cannot be expressed.
 */
import type {
  CanonicalMessage,
  CanonicalRequest,
  ContentBlock,
  ImageBlock,
  TextBlock,
  ThinkingConfig,
  ToolChoice,
  ToolDefinition,
} from '../../shared/canonical';
import { ProxyError } from '../errors';
import type { ChatCompletionBody, ChatMessage } from './validate';

/** Thinking budgets for OpenAI's reasoning_effort. */
export const REASONING_BUDGETS: Readonly<Record<string, number>> = {
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
};

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export interface ChatTranslation {
  readonly request: CanonicalRequest;
  /** stream_options.include_usage */
  readonly includeUsage: boolean;
  /** Request fields that were accepted but could not be honoured (reported in the request's log record). */
  readonly dropped: string[];
}

export interface ChatOptions {
  /** The target is a Claude model: from the 4.5 generation on, Claude takes temperature or top_p, not both. */
  readonly claude?: boolean;
  /** The upstream can constrain the reply to a JSON schema (Claude's output_config.format, an OpenAI server's
   * response_format), so `response_format: json_schema` is honoured; otherwise it is refused with a 400. */
  readonly structuredOutputs?: boolean;
}

export function chatToCanonical(body: ChatCompletionBody, defaultMaxTokens: number, options: ChatOptions = {}): ChatTranslation {
  if (body.n !== undefined && body.n !== null && body.n > 1) {
    throw invalid('n > 1 is not supported: the proxy returns one choice per request.', 'n');
  }
  const outputFormat = structuredOutput(body.response_format ?? undefined, options.structuredOutputs === true);
  if (body.modalities?.some((m) => m !== 'text')) throw invalid('Only the text output modality is supported.', 'modalities');

  const system: TextBlock[] = [];
  const messages: CanonicalMessage[] = [];
  body.messages.forEach((m, i) => translateMessage(m, i, system, messages));
  if (messages.length === 0) throw invalid('messages must contain at least one user, assistant or tool message.', 'messages');

  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens;
  const request: CanonicalRequest = { model: body.model, messages, max_tokens: maxTokens };
  if (system.length === 1) request.system = system[0].text;
  else if (system.length > 1) request.system = system;

  const stop = body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  const stopSequences = stop.filter((s) => s.trim().length > 0);
  if (stopSequences.length > 0) request.stop_sequences = stopSequences;

  if (body.tools && body.tools.length > 0) {
    request.tools = body.tools.map((t): ToolDefinition => {
      const def: ToolDefinition = { name: t.function.name, input_schema: t.function.parameters ?? { type: 'object', properties: {} } };
      if (t.function.description) def.description = t.function.description;
      return def;
    });
    const choice = toolChoice(body.tool_choice ?? undefined, body.parallel_tool_calls ?? undefined);
    if (choice) request.tool_choice = choice;
  } else if (body.tool_choice && body.tool_choice !== 'none' && body.tool_choice !== 'auto') {
    throw invalid('tool_choice requires tools.', 'tool_choice');
  }

  const dropped: string[] = [];
  let thinking = thinkingFor(body.reasoning_effort ?? undefined, maxTokens);
  if (thinking && !thinkingAllowed(request)) {
    // Claude rejects these combinations with a 400; the answer comes without thinking instead.
    thinking = undefined;
    dropped.push('reasoning_effort');
  }
  if (thinking) {
    // Extended thinking does not combine with temperature / top_p / top_k changes.
    request.thinking = thinking;
  } else {
    const temperature = body.temperature ?? undefined;
    const topP = body.top_p ?? undefined;
    if (temperature !== undefined) request.temperature = Math.min(1, temperature);
    // Chat UIs often send both; Claude models from the 4.5 generation on accept only one of them (400 otherwise), so
    // for Claude temperature wins.
    if (topP !== undefined && temperature !== undefined && options.claude) dropped.push('top_p');
    else if (topP !== undefined) request.top_p = topP;
  }
  if (body.user) request.metadata = { user_id: body.user };
  if (body.stream) request.stream = true;
  // Claude's structured outputs field; the OpenAI-compatible upstream turns it back into response_format.
  if (outputFormat) request.extra = { output_config: { format: outputFormat } };
  return { request, includeUsage: body.stream === true && body.stream_options?.include_usage === true, dropped };
}

/** `response_format` -> Claude's `output_config.format` (json_schema), or a 400 naming the param. */
function structuredOutput(format: ChatCompletionBody['response_format'] | undefined, supported: boolean): Record<string, unknown> | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_schema' && supported) {
    const schema = (format as { json_schema?: { schema?: unknown } }).json_schema?.schema;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw invalid('response_format.json_schema.schema must be a JSON schema object.', 'response_format');
    }
    return { type: 'json_schema', schema };
  }
  const hint = format.type === 'json_object' ? ' use json_schema with a schema, or' : '';
  throw invalid(`response_format ${format.type} is not supported for this model;${hint} describe the JSON you want in the prompt instead.`, 'response_format');
}

/**
 * Whether Claude accepts extended thinking for this request. Two cases it rejects (400): a forced tool choice (thinking
 * allows only `auto` and `none`), and a conversation whose last assistant turn called tools, because with thinking on
 * that turn must start with the thinking block Claude produced, signature included, and the Chat Completions format
 * has no way to send it back.
 */
function thinkingAllowed(request: CanonicalRequest): boolean {
  const forced = request.tool_choice?.type === 'any' || request.tool_choice?.type === 'tool';
  if (forced) return false;
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (m.role !== 'assistant') continue;
    return typeof m.content === 'string' || !m.content.some((b) => b.type === 'tool_use');
  }
  return true;
}

function translateMessage(m: ChatMessage, i: number, system: TextBlock[], out: CanonicalMessage[]): void {
  const param = `messages[${i}]`;
  switch (m.role) {
    case 'system':
    case 'developer': {
      const text = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('\n');
      if (text.length > 0) system.push({ type: 'text', text });
      return;
    }
    case 'user': {
      if (typeof m.content === 'string') {
        push(out, 'user', [{ type: 'text', text: m.content }]);
        return;
      }
      const blocks = m.content.map((part, j): ContentBlock => {
        const partParam = `${param}.content[${j}]`;
        switch (part.type) {
          case 'text':
            return { type: 'text', text: part.text };
          case 'image_url':
            return imageBlock(part.image_url.url, `${partParam}.image_url.url`);
          case 'file':
            return fileBlock(part.file, `${partParam}.file`);
          default:
            throw invalid('Audio input is not supported.', `${partParam}.type`);
        }
      });
      push(out, 'user', blocks);
      return;
    }
    case 'assistant': {
      const blocks: ContentBlock[] = [];
      if (typeof m.content === 'string') {
        if (m.content.length > 0) blocks.push({ type: 'text', text: m.content });
      } else if (m.content) {
        for (const part of m.content) {
          const text = part.type === 'text' ? part.text : part.refusal;
          if (text.length > 0) blocks.push({ type: 'text', text });
        }
      }
      (m.tool_calls ?? []).forEach((call, j) => {
        blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments, `${param}.tool_calls[${j}].function.arguments`) });
      });
      if (blocks.length > 0) push(out, 'assistant', blocks);
      return;
    }
    case 'tool': {
      const content = typeof m.content === 'string' ? m.content : m.content.map((p): TextBlock => ({ type: 'text', text: p.text }));
      push(out, 'user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content }]);
      return;
    }
    default:
      throw invalid('The legacy "function" role is not supported; send tool calls with tools / tool_calls / role "tool".', `${param}.role`);
  }
}

/** Appends blocks, merging into the previous message when it has the same role (OpenAI allows runs of one role). */
function push(out: CanonicalMessage[], role: 'user' | 'assistant', blocks: ContentBlock[]): void {
  pushTurn(out, role, blocks, true);
}

/**
 * Appends blocks as a turn, merged into the last message when it has the same role (Claude wants the roles to
 * alternate). `collapseText`: a new turn of one plain text block becomes a string, as a chat message's content was.
 */
export function pushTurn(out: CanonicalMessage[], role: 'user' | 'assistant', blocks: ContentBlock[], collapseText = false): void {
  const last = out[out.length - 1];
  if (last && last.role === role) {
    const previous = typeof last.content === 'string' ? [{ type: 'text', text: last.content } as TextBlock] : last.content;
    last.content = [...previous, ...blocks];
    return;
  }
  const single = collapseText && blocks.length === 1 && blocks[0].type === 'text' && !blocks[0].cache_control;
  out.push({ role, content: single ? (blocks[0] as TextBlock).text : blocks });
}

export function imageBlock(url: string, param: string): ImageBlock {
  const data = parseDataUrl(url);
  if (data) {
    // `image/jpg` is not a registered type, but many clients write it for JPEG.
    const mediaType = data.mediaType === 'image/jpg' ? 'image/jpeg' : data.mediaType;
    if (!IMAGE_TYPES.has(mediaType)) throw invalid(`Image type ${data.mediaType} is not supported; use JPEG, PNG, GIF or WebP.`, param);
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: data.base64 } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid('An image URL must be an http(s) URL or a base64 data URL.', param);
}

export function fileBlock(file: { file_data?: string | null; file_id?: string | null; filename?: string | null }, param: string): ContentBlock {
  if (!file.file_data) throw invalid('Files must be sent inline as file_data (a base64 data URL); file_id is not supported.', param);
  const data = parseDataUrl(file.file_data);
  if (!data) throw invalid('file_data must be a base64 data URL such as data:application/pdf;base64,....', `${param}.file_data`);
  if (data.mediaType === 'application/pdf') {
    return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: data.base64 }, ...(file.filename ? { title: file.filename } : {}) };
  }
  if (data.mediaType === 'text/plain') {
    const text = Buffer.from(data.base64, 'base64').toString('utf8');
    return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text }, ...(file.filename ? { title: file.filename } : {}) };
  }
  if (IMAGE_TYPES.has(data.mediaType)) return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.base64 } };
  throw invalid(`File type ${data.mediaType} is not supported; send PDF, plain text or images.`, `${param}.file_data`);
}

function parseDataUrl(url: string): { mediaType: string; base64: string } | undefined {
  const match = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+);base64,/i.exec(url);
  if (!match) return undefined;
  return { mediaType: match[1].toLowerCase(), base64: url.slice(match[0].length) };
}

export function parseArguments(json: string, param: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalid('Tool call arguments must be a JSON object encoded as a string.', param);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('Tool call arguments must be a JSON object.', param);
  return value as Record<string, unknown>;
}

export function thinkingFor(effort: string | undefined, maxTokens: number): ThinkingConfig | undefined {
  const wanted = effort ? REASONING_BUDGETS[effort] : undefined;
  if (!wanted) return undefined;
  // The budget must be at least 1024 and below max_tokens; otherwise answer without thinking.
  const budget = Math.min(wanted, maxTokens - 1);
  return budget >= 1024 ? { type: 'enabled', budget_tokens: budget } : undefined;
}

function toolChoice(choice: ChatCompletionBody['tool_choice'] | undefined, parallel: boolean | undefined): ToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...single };
  if (choice && typeof choice === 'object') return { type: 'tool', name: choice.function.name, ...single };
  if (parallel === false) return { type: 'auto', disable_parallel_tool_use: true };
  return choice === 'auto' ? { type: 'auto' } : undefined;
}

function invalid(message: string, param: string): ProxyError {
  return new ProxyError('invalid_request', message, { param });
}
