/**
 * A validated OpenAI Responses API body -> the canonical (Anthropic Messages) request, plus the ResponseContext the
 * encoders need to answer in the Responses format (the response id, the echoed request fields, and the table that
 * maps the tool names Claude sees back to Responses tools). Pure; throws a ProxyError (400, with the OpenAI `param`)
 * for what cannot be expressed.
 *
 * - `input` items: messages (`input_text`, `input_image`, `input_file`; assistant `output_text` / `refusal`),
 *   `function_call` / `function_call_output`, `custom_tool_call` / `custom_tool_call_output`, and `reasoning` items
 *   passed back (their `encrypted_content` carries Claude's thinking block and signature, see output.ts).
 * - Tools: `function`, `custom` (free-form input, a string) and `namespace` (its tools flattened to `ns__name`).
 *   `web_search` with `external_web_access: false` (Codex CLI sends it by default: search is optional to it) is left
 *   out and reported; every other built-in tool is a 400 that names it, because the model cannot run it here.
 * - `reasoning.effort` -> Claude thinking budgets (as Chat Completions' `reasoning_effort`); `text.format` json_schema ->
 *   Claude's `output_config.format`.
 */
import type {
  CanonicalMessage,
  CanonicalRequest,
  ContentBlock,
  TextBlock,
  ToolChoice,
  ToolDefinition,
} from '../../shared/canonical';
import { ProxyError } from '../errors';
import { decodeReasoning } from './output';
import type { ResponsesBody } from './validate';
import { fileBlock, imageBlock, parseArguments, pushTurn as push, thinkingFor } from '../openai/request';

/** How a tool name Claude sees maps back to the Responses tool. */
export interface ToolName {
  readonly name: string;
  readonly namespace?: string;
  /** A `custom` tool: its input is one string (`input` in the schema Claude sees). */
  readonly custom: boolean;
}

/** What the Responses encoders echo and need, besides the canonical events. */
export interface ResponseContext {
  readonly id: string;
  readonly createdAt: number;
  /** The model name the client sent. */
  readonly model: string;
  /** Flat tool name -> the client's tool. Names not in it are reported as plain functions. */
  readonly toolNames: ReadonlyMap<string, ToolName>;
  /** `include: ["reasoning.encrypted_content"]`: reasoning items carry Claude's thinking block for the next turn. */
  readonly encryptedReasoning: boolean;
  /** `reasoning.summary` was asked for: Claude's (summarized) thinking is sent as summary text. */
  readonly reasoningSummary: boolean;
  /** Whether the response is kept for `previous_response_id`. */
  store: boolean;
  /** Request fields echoed in the response object, as the Responses API does. */
  readonly echo: Readonly<Record<string, unknown>>;
}

export interface ResponsesTranslation {
  readonly request: CanonicalRequest;
  readonly context: ResponseContext;
  /** The messages this request adds to the conversation (without the stored history). */
  readonly newTurn: CanonicalMessage[];
  /** Request fields that were accepted but not honoured (reported in the request's log record). */
  readonly dropped: string[];
}

export interface ResponsesOptions {
  readonly id: string;
  readonly createdAt: number;
  readonly defaultMaxTokens: number;
  /** The conversation stored under `previous_response_id`, if any. */
  readonly history?: readonly CanonicalMessage[];
  /** Whether the response will be stored (a session store exists and `store` is not false). */
  readonly store: boolean;
  /** The target is a Claude model (temperature or top_p, not both; prompt-cache breakpoints). */
  readonly claude?: boolean;
  /** The upstream can constrain the reply to a JSON schema. */
  readonly structuredOutputs?: boolean;
}

/** Built-in OpenAI tools the proxy cannot run (the model has no such tool here). */
const BUILT_IN_TOOLS = new Set([
  'web_search', 'web_search_preview', 'web_search_2025_08_26', 'web_search_preview_2025_03_11', 'file_search',
  'code_interpreter', 'computer_use', 'computer_use_preview', 'computer', 'image_generation', 'mcp', 'local_shell',
  'shell', 'apply_patch', 'tool_search',
]);

/** Claude's tool names: 1-64 of letters, digits, `_` and `-`. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const NAMESPACE_SEPARATOR = '__';
const MAX_INPUT_ITEMS = 10_000;

export function responsesToCanonical(body: ResponsesBody, options: ResponsesOptions): ResponsesTranslation {
  if (body.background) throw invalid('background responses are not supported: send the request and read the stream.', 'background');
  if (body.conversation !== undefined && body.conversation !== null) {
    throw invalid('conversation objects are not supported; use previous_response_id (with store) or send the whole conversation.', 'conversation');
  }
  if (body.prompt !== undefined && body.prompt !== null) throw invalid('Prompt templates are not supported; send instructions and input.', 'prompt');
  const dropped: string[] = [];

  const toolNames = new Map<string, ToolName>();
  const tools = translateTools(body.tools ?? [], toolNames, dropped);

  const system: TextBlock[] = [];
  if (body.instructions) system.push({ type: 'text', text: body.instructions });
  const history = options.history ?? [];
  const knownCalls = new Set<string>();
  for (const m of history) {
    if (typeof m.content !== 'string') for (const b of m.content) if (b.type === 'tool_use') knownCalls.add(b.id);
  }
  const newTurn: CanonicalMessage[] = [];
  const input = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : body.input ?? [];
  if (input.length > MAX_INPUT_ITEMS) throw invalid(`input has more than ${MAX_INPUT_ITEMS} items.`, 'input');
  const reasoning: { dropped: boolean } = { dropped: false };
  input.forEach((item, i) => translateItem(item as Item, `input[${i}]`, { system, out: newTurn, toolNames, knownCalls, reasoning }));
  if (reasoning.dropped) dropped.push('input.reasoning');
  const messages = [...history, ...newTurn];
  if (!messages.some((m) => m.role === 'user' || m.role === 'assistant')) {
    throw invalid('input must contain at least one message or tool output.', 'input');
  }

  const maxTokens = body.max_output_tokens ?? options.defaultMaxTokens;
  const request: CanonicalRequest = { model: body.model, messages, max_tokens: maxTokens };
  if (system.length === 1) request.system = system[0].text;
  else if (system.length > 1) request.system = system;
  if (tools.length > 0) {
    request.tools = tools;
    const choice = toolChoice(body.tool_choice ?? undefined, body.parallel_tool_calls ?? undefined, toolNames, request);
    if (choice) request.tool_choice = choice;
  } else if (body.tool_choice && body.tool_choice !== 'none' && body.tool_choice !== 'auto') {
    throw invalid('tool_choice requires tools.', 'tool_choice');
  }

  let thinking = thinkingFor(body.reasoning?.effort ?? undefined, maxTokens);
  if (thinking && !thinkingAllowed(request)) {
    // Claude rejects thinking with a forced tool, or after a tool call whose thinking block was not passed back.
    thinking = undefined;
    dropped.push('reasoning.effort');
  }
  if (thinking) {
    request.thinking = thinking;
    if (body.temperature !== undefined && body.temperature !== null && body.temperature !== 1) dropped.push('temperature');
    if (body.top_p !== undefined && body.top_p !== null && body.top_p !== 1) dropped.push('top_p');
  } else {
    if (body.temperature !== undefined && body.temperature !== null) request.temperature = body.temperature;
    if (body.top_p !== undefined && body.top_p !== null) {
      if (options.claude && request.temperature !== undefined) dropped.push('top_p');
      else request.top_p = body.top_p;
    }
  }
  const user = body.safety_identifier ?? body.user;
  if (user) request.metadata = { user_id: user };
  if (body.stream) request.stream = true;
  const format = outputFormat(body.text?.format ?? undefined, options.structuredOutputs === true);
  if (format) request.extra = { output_config: { format } };
  if (options.claude) addCacheBreakpoints(request);

  const include = body.include ?? [];
  const context: ResponseContext = {
    id: options.id,
    createdAt: options.createdAt,
    model: body.model,
    toolNames,
    encryptedReasoning: include.includes('reasoning.encrypted_content'),
    reasoningSummary: (body.reasoning?.summary ?? undefined) !== undefined,
    store: options.store,
    echo: {
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      metadata: body.metadata ?? {},
      parallel_tool_calls: body.parallel_tool_calls ?? true,
      previous_response_id: body.previous_response_id ?? null,
      prompt_cache_key: body.prompt_cache_key ?? null,
      reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
      safety_identifier: body.safety_identifier ?? null,
      temperature: body.temperature ?? 1,
      text: { format: body.text?.format ?? { type: 'text' } },
      tool_choice: body.tool_choice ?? 'auto',
      tools: body.tools ?? [],
      top_p: body.top_p ?? 1,
      truncation: 'disabled',
      user: body.user ?? null,
    },
  };
  return { request, context, newTurn, dropped };
}

// ---------------------------------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------------------------------

type Tool = { type: string; [field: string]: unknown };

function translateTools(tools: readonly Tool[], names: Map<string, ToolName>, dropped: string[]): ToolDefinition[] {
  const out: ToolDefinition[] = [];
  const add = (tool: Tool, param: string, namespace?: string): void => {
    const name = tool.name;
    if (typeof name !== 'string' || name.length === 0) throw invalid('A tool needs a name.', `${param}.name`);
    const flat = namespace === undefined ? name : flatName(namespace, name);
    if (!TOOL_NAME.test(flat)) {
      throw invalid('Tool names must be 1-64 letters, digits, underscores or dashes (a namespace and its tool\'s name together).', `${param}.name`);
    }
    if (names.has(flat)) throw invalid(`Two tools are named ${flat}.`, `${param}.name`);
    const description = typeof tool.description === 'string' && tool.description.length > 0 ? tool.description : undefined;
    if (tool.type === 'function') {
      const parameters = tool.parameters;
      if (parameters !== undefined && parameters !== null && (typeof parameters !== 'object' || Array.isArray(parameters))) {
        throw invalid('parameters must be a JSON schema object.', `${param}.parameters`);
      }
      const def: ToolDefinition = { name: flat, input_schema: (parameters as Record<string, unknown> | null | undefined) ?? { type: 'object', properties: {} } };
      if (description) def.description = description;
      out.push(def);
      names.set(flat, { name, namespace, custom: false });
      return;
    }
    if (tool.type === 'custom') {
      const grammar = customFormat(tool.format);
      const def: ToolDefinition = {
        name: flat,
        input_schema: {
          type: 'object',
          properties: { input: { type: 'string', description: grammar ? `The tool's input, in this grammar:\n${grammar}` : 'The tool\'s input.' } },
          required: ['input'],
        },
      };
      if (description) def.description = description;
      out.push(def);
      names.set(flat, { name, namespace, custom: true });
      return;
    }
    throw invalid(`${tool.type} tools are not supported${namespace ? ' inside a namespace' : ''}; use function or custom tools.`, `${param}.type`);
  };

  tools.forEach((tool, i) => {
    const param = `tools[${i}]`;
    if (tool.type === 'namespace') {
      const namespace = tool.name;
      if (typeof namespace !== 'string' || namespace.length === 0) throw invalid('A namespace needs a name.', `${param}.name`);
      const inner = Array.isArray(tool.tools) ? tool.tools as Tool[] : [];
      inner.forEach((t, j) => {
        if (typeof t !== 'object' || t === null) throw invalid('A tool must be an object.', `${param}.tools[${j}]`);
        add(t, `${param}.tools[${j}]`, namespace);
      });
      return;
    }
    if ((tool.type === 'web_search' || tool.type === 'web_search_preview') && tool.external_web_access === false) {
      dropped.push(`tools.${tool.type}`);
      return;
    }
    if (BUILT_IN_TOOLS.has(tool.type)) {
      const codex = tool.type.startsWith('web_search') ? ' (Codex CLI: web_search = "disabled" in ~/.codex/config.toml)' : '';
      throw invalid(`The ${tool.type} tool is not supported: the model cannot run OpenAI's built-in tools through this proxy; `
        + `remove it${codex}, or define a function tool your client runs.`, `${param}.type`);
    }
    add(tool, param);
  });
  return out;
}

function flatName(namespace: string, name: string): string {
  return `${namespace}${NAMESPACE_SEPARATOR}${name}`;
}

function customFormat(format: unknown): string | undefined {
  if (typeof format !== 'object' || format === null) return undefined;
  const f = format as { type?: unknown; syntax?: unknown; definition?: unknown };
  if (f.type !== 'grammar' || typeof f.definition !== 'string') return undefined;
  return `${typeof f.syntax === 'string' ? `(${f.syntax}) ` : ''}${f.definition}`;
}

function toolChoice(
  choice: ResponsesBody['tool_choice'] | undefined,
  parallel: boolean | undefined,
  names: ReadonlyMap<string, ToolName>,
  request: CanonicalRequest,
): ToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === 'auto') return parallel === false ? { type: 'auto', ...single } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...single };
  const c = choice as { type: string; name?: unknown; namespace?: unknown; mode?: unknown; tools?: unknown };
  if (c.type === 'function' || c.type === 'custom') {
    if (typeof c.name !== 'string') throw invalid('tool_choice needs the name of the tool.', 'tool_choice.name');
    const flat = typeof c.namespace === 'string' ? flatName(c.namespace, c.name) : c.name;
    if (!names.has(flat)) throw invalid(`tool_choice names ${flat}, which is not in tools.`, 'tool_choice.name');
    return { type: 'tool', name: flat, ...single };
  }
  if (c.type === 'allowed_tools') {
    const allowed = Array.isArray(c.tools) ? c.tools as Array<{ type?: unknown; name?: unknown; namespace?: unknown }> : [];
    const keep = new Set(allowed.map((t) => (typeof t.namespace === 'string' && typeof t.name === 'string' ? flatName(t.namespace, t.name) : t.name)));
    request.tools = (request.tools ?? []).filter((t) => keep.has(t.name));
    if (request.tools.length === 0) throw invalid('allowed_tools names none of the tools in tools.', 'tool_choice.tools');
    return c.mode === 'required' ? { type: 'any', ...single } : parallel === false ? { type: 'auto', ...single } : undefined;
  }
  throw invalid(`tool_choice ${c.type} is not supported; use none, auto, required, or a function or custom tool.`, 'tool_choice.type');
}

// ---------------------------------------------------------------------------------------------------------------------
// Input items
// ---------------------------------------------------------------------------------------------------------------------

type Item = { type?: string | null; [field: string]: unknown };

interface ItemState {
  readonly system: TextBlock[];
  readonly out: CanonicalMessage[];
  readonly toolNames: ReadonlyMap<string, ToolName>;
  readonly knownCalls: Set<string>;
  readonly reasoning: { dropped: boolean };
}

function translateItem(item: Item, param: string, state: ItemState): void {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid('An input item must be an object.', param);
  const type = item.type ?? (typeof item.role === 'string' ? 'message' : undefined);
  switch (type) {
    case 'message':
      translateMessage(item, param, state);
      return;
    case 'function_call':
    case 'custom_tool_call': {
      const callId = requireString(item.call_id, `${param}.call_id`);
      const name = requireString(item.name, `${param}.name`);
      const flat = typeof item.namespace === 'string' && item.namespace.length > 0 ? flatName(item.namespace, name) : name;
      let input: Record<string, unknown>;
      if (type === 'function_call') {
        input = parseArguments(typeof item.arguments === 'string' ? item.arguments : '', `${param}.arguments`);
      } else {
        input = { input: typeof item.input === 'string' ? item.input : '' };
      }
      state.knownCalls.add(callId);
      push(state.out, 'assistant', [{ type: 'tool_use', id: callId, name: flat, input }]);
      return;
    }
    case 'function_call_output':
    case 'custom_tool_call_output': {
      const callId = requireString(item.call_id, `${param}.call_id`);
      if (!state.knownCalls.has(callId)) {
        throw invalid(`No function_call with call_id ${JSON.stringify(callId)} comes before this output (in input or the previous response).`, `${param}.call_id`);
      }
      push(state.out, 'user', [{ type: 'tool_result', tool_use_id: callId, content: toolOutput(item.output, `${param}.output`) }]);
      return;
    }
    case 'reasoning': {
      const block = decodeReasoning(item.encrypted_content);
      if (block) push(state.out, 'assistant', [block]);
      else state.reasoning.dropped = true;
      return;
    }
    case 'item_reference':
      throw invalid('item_reference is not supported; send the item itself, or use previous_response_id.', `${param}.type`);
    default:
      throw invalid(`Input items of type ${type === undefined ? '(none)' : JSON.stringify(type)} are not supported; `
        + 'send message, function_call, function_call_output, custom_tool_call, custom_tool_call_output or reasoning items.', `${param}.type`);
  }
}

function translateMessage(item: Item, param: string, state: ItemState): void {
  const role = item.role;
  const content = item.content;
  if (typeof content !== 'string' && !Array.isArray(content)) throw invalid('content must be a string or an array of content parts.', `${param}.content`);
  switch (role) {
    case 'system':
    case 'developer': {
      const text = typeof content === 'string' ? content : content.map((part, j) => partText(part, `${param}.content[${j}]`)).join('\n');
      if (text.length > 0) state.system.push({ type: 'text', text });
      return;
    }
    case 'user': {
      if (typeof content === 'string') {
        push(state.out, 'user', [{ type: 'text', text: content }]);
        return;
      }
      const blocks = content.map((part, j) => userPart(part, `${param}.content[${j}]`));
      if (blocks.length > 0) push(state.out, 'user', blocks);
      return;
    }
    case 'assistant': {
      const texts = typeof content === 'string' ? [content] : content.map((part, j) => partText(part, `${param}.content[${j}]`));
      const blocks: ContentBlock[] = texts.filter((t) => t.length > 0).map((text) => ({ type: 'text', text }));
      if (blocks.length > 0) push(state.out, 'assistant', blocks);
      return;
    }
    default:
      throw invalid('role must be user, assistant, system or developer.', `${param}.role`);
  }
}

/** The text of a text-bearing part (input_text, output_text, refusal, summary_text). */
function partText(part: unknown, param: string): string {
  const p = part as { type?: unknown; text?: unknown; refusal?: unknown };
  if (typeof p !== 'object' || p === null) throw invalid('A content part must be an object.', param);
  if ((p.type === 'input_text' || p.type === 'output_text' || p.type === 'text' || p.type === 'summary_text') && typeof p.text === 'string') return p.text;
  if (p.type === 'refusal' && typeof p.refusal === 'string') return p.refusal;
  throw invalid(`Content parts of type ${JSON.stringify(p.type)} are not supported here; send input_text.`, `${param}.type`);
}

function userPart(part: unknown, param: string): ContentBlock {
  const p = part as { type?: unknown; [field: string]: unknown };
  if (typeof p !== 'object' || p === null) throw invalid('A content part must be an object.', param);
  switch (p.type) {
    case 'input_text':
    case 'text':
    case 'output_text':
      if (typeof p.text !== 'string') throw invalid('text must be a string.', `${param}.text`);
      return { type: 'text', text: p.text };
    case 'input_image': {
      if (typeof p.image_url === 'string' && p.image_url.length > 0) return imageBlock(p.image_url, `${param}.image_url`);
      throw invalid('Images must be sent as image_url (an http(s) URL or a base64 data URL); file_id is not supported.', `${param}.image_url`);
    }
    case 'input_file': {
      const fileData = typeof p.file_data === 'string' ? p.file_data : undefined;
      const filename = typeof p.filename === 'string' ? p.filename : undefined;
      if (fileData && !fileData.startsWith('data:') && filename?.toLowerCase().endsWith('.pdf')) {
        return fileBlock({ file_data: `data:application/pdf;base64,${fileData}`, filename }, param);
      }
      return fileBlock({ file_data: fileData, filename }, param);
    }
    default:
      throw invalid(`Content parts of type ${JSON.stringify(p.type)} are not supported; send input_text, input_image or input_file.`, `${param}.type`);
  }
}

function toolOutput(output: unknown, param: string): string | Array<TextBlock | Extract<ContentBlock, { type: 'image' | 'document' }>> {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output)) throw invalid('output must be a string or an array of content parts.', param);
  return output.map((part, j) => {
    const block = userPart(part, `${param}[${j}]`);
    if (block.type !== 'text' && block.type !== 'image' && block.type !== 'document') throw invalid('Unsupported tool output part.', `${param}[${j}]`);
    return block;
  });
}

function requireString(value: unknown, param: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid('is required (a non-empty string).', param);
  return value;
}

/** Appends blocks, merging into the previous message of the same role (a tool call's reasoning, text and calls are one
 * assistant turn; its outputs and the next user text one user turn, tool results first). */

// ---------------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------------

function outputFormat(format: { type: string; [field: string]: unknown } | undefined, supported: boolean): Record<string, unknown> | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_schema' && supported) {
    const schema = format.schema;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw invalid('text.format.schema must be a JSON schema object.', 'text.format.schema');
    return { type: 'json_schema', schema };
  }
  const hint = format.type === 'json_object' ? ' use json_schema with a schema, or' : '';
  throw invalid(`text.format ${format.type} is not supported for this model;${hint} describe the JSON you want in the instructions instead.`, 'text.format');
}

/**
 * Claude accepts thinking unless a tool is forced, or the last assistant turn called tools without starting with the
 * thinking block Claude produced (a reasoning item passed back with its encrypted_content restores it).
 */
function thinkingAllowed(request: CanonicalRequest): boolean {
  if (request.tool_choice?.type === 'any' || request.tool_choice?.type === 'tool') return false;
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    if (!m.content.some((b) => b.type === 'tool_use')) return true;
    const first = m.content[0]?.type;
    return first === 'thinking' || first === 'redacted_thinking';
  }
  return true;
}

const CACHEABLE = new Set(['text', 'image', 'document', 'tool_use', 'tool_result']);

/**
 * The Responses API caches prompt prefixes automatically; Claude caches up to the blocks marked with cache_control. Two
 * breakpoints give the same effect for an agent loop: the end of the system prompt (tools and instructions, the same on
 * every request) and the end of the conversation (the next request repeats it and adds to it).
 */
function addCacheBreakpoints(request: CanonicalRequest): void {
  if (typeof request.system === 'string') {request.system = [{ type: 'text', text: request.system, cache_control: { type: 'ephemeral' } }];} else if (Array.isArray(request.system) && request.system.length > 0) {
    const last = request.system.length - 1;
    request.system = request.system.map((b, i) => (i === last ? { ...b, cache_control: { type: 'ephemeral' } } : b));
  }
  const message = request.messages[request.messages.length - 1];
  if (!message) return;
  const blocks = typeof message.content === 'string' ? [{ type: 'text', text: message.content } as TextBlock] : message.content;
  const lastBlock = blocks[blocks.length - 1];
  if (!lastBlock || !CACHEABLE.has(lastBlock.type) || (lastBlock.type === 'text' && lastBlock.text.length === 0)) return;
  request.messages = [
    ...request.messages.slice(0, -1),
    { ...message, content: [...blocks.slice(0, -1), { ...lastBlock, cache_control: { type: 'ephemeral' } } as ContentBlock] },
  ];
}

function invalid(message: string, param: string): ProxyError {
  return new ProxyError('invalid_request', message, { param });
}
