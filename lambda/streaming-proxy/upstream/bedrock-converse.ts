/**
 * Non-Anthropic Bedrock models (Nova, Llama, Mistral, DeepSeek, gpt-oss, …) through ConverseStream / Converse.
 *
 * Two pure translations, tested without I/O:
 * - `toConverseInput()`: canonical (Anthropic Messages) request -> Converse request;
 * - `ConverseTranslator`: ConverseStream events -> a valid canonical event sequence: message_start first; every block
 *   opened with content_block_start, fed with deltas and closed with content_block_stop under one consecutive index;
 *   then message_delta (stop reason mapped, usage from the `metadata` event, which Converse sends after `messageStop`)
 *   and message_stop.
 */
import {
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  type BedrockRuntimeClient,
  type ContentBlock as ConverseBlock,
  type ConverseStreamOutput,
  type ConverseOutput,
  type ConverseStreamCommandInput,
  type DocumentFormat,
  type ImageFormat,
  type Message,
  type StopReason as ConverseStopReason,
  type SystemContentBlock,
  type TokenUsage,
  type Tool,
  type ToolChoice,
  type ToolResultContentBlock,
} from '@aws-sdk/client-bedrock-runtime';
import {
  firstUnknownPart,
  systemTurnText,
  UpstreamError,
  type CanonicalEvent,
  type CanonicalMessage,
  type CanonicalRequest,
  type ContentBlock,
  type DocumentBlock,
  type ImageBlock,
  type MessageResponse,
  type StopReason,
  type TextBlock,
  type Usage,
} from '../../shared/canonical';
import { foundationModelId, isClaude } from '../catalogue';
import { CallControl, runStream, type UpstreamTimeouts } from './call-control';
import { claudeOnlyBlock, exceptionMember, toUpstreamError, untranslatable } from './errors';
import type { ResolvedModel, Upstream, UpstreamCall } from './types';

const WHAT = 'Bedrock';

// ---------------------------------------------------------------------------------------------------------------------
// Request: canonical -> Converse
// ---------------------------------------------------------------------------------------------------------------------

type ConverseDocument = NonNullable<ConverseStreamCommandInput['additionalModelRequestFields']>;

export interface ConverseInput {
  modelId: string;
  messages: Message[];
  system?: SystemContentBlock[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: Tool[]; toolChoice?: ToolChoice };
  additionalModelRequestFields?: ConverseDocument;
}

const IMAGE_FORMATS: Record<string, ImageFormat> = {
  'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp',
};
const DOCUMENT_FORMATS: Record<string, DocumentFormat> = {
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'text/csv': 'csv',
  'text/html': 'html',
  'text/markdown': 'md',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
};

function invalid(message: string): UpstreamError {
  return new UpstreamError('validation', message);
}

function imageBlock(block: ImageBlock): ConverseBlock {
  if (block.source.type !== 'base64') {
    throw invalid('image URLs are not supported for this model; send the image as base64');
  }
  const format = IMAGE_FORMATS[block.source.media_type.toLowerCase()];
  if (!format) throw invalid(`image type ${block.source.media_type} is not supported for this model`);
  return { image: { format, source: { bytes: Buffer.from(block.source.data, 'base64') } } };
}

/** Converse document names allow letters, digits, spaces, hyphens, parentheses and square brackets. */
function documentName(block: DocumentBlock, n: number): string {
  const cleaned = (block.title ?? '').replace(/[^A-Za-z0-9 ()[\]-]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  return cleaned.length > 0 ? cleaned : `document ${n}`;
}

function documentBlock(block: DocumentBlock, n: number): ConverseBlock {
  const name = documentName(block, n);
  const source = block.source;
  switch (source.type) {
    case 'base64': {
      const format = DOCUMENT_FORMATS[source.media_type.toLowerCase()];
      if (!format) throw invalid(`document type ${source.media_type} is not supported for this model`);
      return { document: { format, name, source: { bytes: Buffer.from(source.data, 'base64') } } };
    }
    case 'text':
      return { document: { format: 'txt', name, source: { bytes: Buffer.from(source.data, 'utf8') } } };
    case 'content': {
      const text = typeof source.content === 'string'
        ? source.content
        : source.content.filter((b): b is TextBlock => b.type === 'text').map((b) => b.text).join('\n');
      return { document: { format: 'txt', name, source: { bytes: Buffer.from(text, 'utf8') } } };
    }
    default:
      throw invalid('document URLs are not supported for this model; send the document as base64');
  }
}

const CACHE_POINT: ConverseBlock = { cachePoint: { type: 'default' } };

function toConverseContent(content: string | ContentBlock[], counter: { documents: number }): ConverseBlock[] {
  if (typeof content === 'string') return [{ text: content }];
  const out: ConverseBlock[] = [];
  for (const block of content) {
    switch (block.type) {
      case 'text':
        out.push({ text: block.text });
        break;
      case 'image':
        out.push(imageBlock(block));
        break;
      case 'document':
        out.push(documentBlock(block, ++counter.documents));
        break;
      case 'tool_use':
        out.push({ toolUse: { toolUseId: block.id, name: block.name, input: block.input as never } });
        break;
      case 'tool_result': {
        const parts: ToolResultContentBlock[] = [];
        if (typeof block.content === 'string') {
          parts.push({ text: block.content });
        } else {
          for (const part of block.content ?? []) {
            if (part.type === 'text') parts.push({ text: part.text });
            else if (part.type === 'image') parts.push(imageBlock(part) as ToolResultContentBlock);
            else if (part.type === 'document') parts.push(documentBlock(part, ++counter.documents) as ToolResultContentBlock);
            else throw claudeOnlyBlock(part.type);
          }
        }
        if (parts.length === 0) parts.push({ text: '' });
        out.push({ toolResult: { toolUseId: block.tool_use_id, content: parts, status: block.is_error ? 'error' : 'success' } });
        break;
      }
      case 'thinking':
        out.push({ reasoningContent: { reasoningText: { text: block.thinking, signature: block.signature || undefined } } });
        break;
      case 'redacted_thinking':
        out.push({ reasoningContent: { redactedContent: Buffer.from(block.data, 'base64') } });
        break;
      default:
        throw claudeOnlyBlock(block.type);
    }
    if ('cache_control' in block && block.cache_control) out.push(CACHE_POINT);
  }
  return out;
}

function asBlocks(content: string | ContentBlock[]): ContentBlock[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

function toolChoice(choice: CanonicalRequest['tool_choice']): ToolChoice | undefined {
  switch (choice?.type) {
    case 'any': return { any: {} };
    case 'tool': return { tool: { name: choice.name } };
    case 'auto': return { auto: {} };
    // Converse has no "none": the tools stay declared (history may refer to them) and the model chooses.
    default: return undefined;
  }
}

/** The Converse request for a canonical request. Throws UpstreamError('validation') for content Converse cannot carry. */
export function toConverseInput(request: CanonicalRequest, model: ResolvedModel): ConverseInput {
  const unknown = firstUnknownPart(request.messages);
  if (unknown) throw untranslatable(unknown, 'the Converse API');
  const counter = { documents: 0 };
  // Converse has one system prompt and strictly alternating turns: a system-role turn in the conversation becomes
  // system content (after the top-level system prompt, in order), and the turns around it are merged.
  const turns: CanonicalMessage[] = [];
  const systemTurns: string[] = [];
  for (const m of request.messages) {
    if (m.role === 'system') {
      const text = systemTurnText(m);
      if (text.length > 0) systemTurns.push(text);
      continue;
    }
    const last = turns[turns.length - 1];
    if (last && last.role === m.role) turns[turns.length - 1] = { role: m.role, content: [...asBlocks(last.content), ...asBlocks(m.content)] };
    else turns.push(m);
  }
  const input: ConverseInput = {
    modelId: model.target,
    messages: turns.map((m) => ({ role: m.role as 'user' | 'assistant', content: toConverseContent(m.content, counter) })),
  };
  const system: SystemContentBlock[] = [];
  if (typeof request.system === 'string') {
    if (request.system.length > 0) system.push({ text: request.system });
  } else {
    for (const block of request.system ?? []) {
      if (block.type !== 'text') throw untranslatable({ path: 'system', what: `${(block as { type: string }).type} blocks` }, 'the Converse API');
      system.push({ text: block.text });
      if (block.cache_control) system.push({ cachePoint: { type: 'default' } });
    }
  }
  for (const text of systemTurns) system.push({ text });
  if (system.length > 0) input.system = system;
  const inference: NonNullable<ConverseInput['inferenceConfig']> = { maxTokens: request.max_tokens };
  if (request.temperature !== undefined) inference.temperature = request.temperature;
  if (request.top_p !== undefined) inference.topP = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) inference.stopSequences = request.stop_sequences;
  input.inferenceConfig = inference;
  if (request.tools && request.tools.length > 0) {
    const tools: Tool[] = request.tools.map((tool, i) => {
      if (tool.type && tool.type !== 'custom') {
        throw invalid(`the ${tool.type} tool is an Anthropic tool and is not available for this model`);
      }
      if (typeof tool.name !== 'string' || tool.name.length === 0) throw invalid(`tools.${i}.name: is required`);
      return {
        toolSpec: {
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          inputSchema: { json: (tool.input_schema ?? { type: 'object', properties: {} }) as never },
        },
      };
    });
    const choice = toolChoice(request.tool_choice);
    input.toolConfig = choice ? { tools, toolChoice: choice } : { tools };
  }
  // Claude models reached through Converse take thinking and top_k as additional fields; other models reject them.
  if (isClaude(model)) {
    const extra: Record<string, ConverseDocument> = {};
    if (request.thinking) extra.thinking = request.thinking as unknown as ConverseDocument;
    if (request.top_k !== undefined) extra.top_k = request.top_k;
    if (request.anthropic_beta && request.anthropic_beta.length > 0) extra.anthropic_beta = request.anthropic_beta;
    // Claude's structured outputs and effort travel the same way.
    if (request.extra?.output_config !== undefined) extra.output_config = request.extra.output_config as ConverseDocument;
    if (Object.keys(extra).length > 0) input.additionalModelRequestFields = extra;
  }
  return input;
}

// ---------------------------------------------------------------------------------------------------------------------
// Response: Converse -> canonical
// ---------------------------------------------------------------------------------------------------------------------

export function mapStopReason(reason: ConverseStopReason | string | undefined): StopReason {
  switch (reason) {
    case 'tool_use': return 'tool_use';
    case 'max_tokens': return 'max_tokens';
    case 'model_context_window_exceeded': return 'max_tokens';
    case 'stop_sequence': return 'stop_sequence';
    case 'guardrail_intervened':
    case 'content_filtered': return 'refusal';
    default: return 'end_turn';
  }
}

function stopSequenceOf(fields: unknown): string | null {
  const value = (fields as { stop_sequence?: unknown } | undefined)?.stop_sequence;
  return typeof value === 'string' ? value : null;
}

export function mapUsage(usage: TokenUsage | undefined): Usage {
  const out: Usage = { input_tokens: usage?.inputTokens ?? 0, output_tokens: usage?.outputTokens ?? 0 };
  if (usage?.cacheReadInputTokens !== undefined) out.cache_read_input_tokens = usage.cacheReadInputTokens;
  if (usage?.cacheWriteInputTokens !== undefined) out.cache_creation_input_tokens = usage.cacheWriteInputTokens;
  return out;
}

type OpenBlock = 'text' | 'thinking' | 'redacted' | 'tool_use';

/**
 * ConverseStream events -> canonical events. `push()` returns the events one Converse event produces; `end()` those
 * due when the stream ends (message_delta + message_stop, after closing any open block).
 */
export class ConverseTranslator {
  private started = false;
  private finished = false;
  /** The next canonical block index: blocks are numbered 0, 1, 2, … in the order they open. */
  private nextIndex = 0;
  private open: { converse: number; index: number; kind: OpenBlock } | undefined;
  private stopReason: StopReason | undefined;
  private stopSequence: string | null = null;
  private usage: Usage | undefined;

  constructor(private readonly clientModel: string, private readonly messageId: string) {}

  push(event: ConverseStreamOutput): CanonicalEvent[] {
    const out: CanonicalEvent[] = [];
    if (event.messageStart) {
      this.start(out);
    } else if (event.contentBlockStart) {
      this.start(out);
      const { contentBlockIndex = 0, start } = event.contentBlockStart;
      if (start?.toolUse) {
        this.openBlock(out, contentBlockIndex, 'tool_use', {
          type: 'tool_use',
          id: start.toolUse.toolUseId ?? `toolu_${this.messageId}_${contentBlockIndex}`,
          name: start.toolUse.name ?? '',
          input: {},
        });
      }
    } else if (event.contentBlockDelta) {
      this.start(out);
      this.delta(out, event.contentBlockDelta.contentBlockIndex ?? 0, event.contentBlockDelta.delta);
    } else if (event.contentBlockStop) {
      const index = event.contentBlockStop.contentBlockIndex ?? 0;
      if (this.open && this.open.converse === index) this.closeBlock(out);
    } else if (event.messageStop) {
      this.start(out);
      this.closeBlock(out);
      this.stopReason = mapStopReason(event.messageStop.stopReason);
      this.stopSequence = stopSequenceOf(event.messageStop.additionalModelResponseFields);
    } else if (event.metadata) {
      this.usage = mapUsage(event.metadata.usage);
    } else {
      // Exception members arrive here only when the SDK did not throw them itself.
      throw exceptionMember(event, WHAT);
    }
    return out;
  }

  /** The stream ended normally. Throws when Converse ended without messageStop (a truncated stream). */
  end(): CanonicalEvent[] {
    if (this.finished) return [];
    if (this.stopReason === undefined) throw new UpstreamError('internal', `${WHAT} ended the stream before messageStop`);
    const out: CanonicalEvent[] = [];
    this.start(out);
    this.closeBlock(out);
    const usage = this.usage ?? { input_tokens: 0, output_tokens: 0 };
    out.push({
      type: 'message_delta',
      delta: { stop_reason: this.stopReason, stop_sequence: this.stopSequence },
      usage: { ...usage },
    });
    out.push({ type: 'message_stop' });
    this.finished = true;
    return out;
  }

  private start(out: CanonicalEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push({
      type: 'message_start',
      message: {
        id: this.messageId,
        type: 'message',
        role: 'assistant',
        model: this.clientModel,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private delta(out: CanonicalEvent[], converseIndex: number, delta: NonNullable<ConverseStreamOutput['contentBlockDelta']>['delta']): void {
    if (!delta) return;
    if (delta.text !== undefined) {
      this.ensure(out, converseIndex, 'text', { type: 'text', text: '' });
      if (delta.text.length > 0) out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'text_delta', text: delta.text } });
    } else if (delta.toolUse) {
      this.ensure(out, converseIndex, 'tool_use', { type: 'tool_use', id: `toolu_${this.messageId}_${converseIndex}`, name: '', input: {} });
      const json = delta.toolUse.input ?? '';
      if (json.length > 0) out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'input_json_delta', partial_json: json } });
    } else if (delta.reasoningContent) {
      const r = delta.reasoningContent;
      if (r.redactedContent !== undefined) {
        // Anthropic carries redacted thinking whole in content_block_start; Converse sends it as a delta.
        this.closeBlock(out);
        this.openBlock(out, converseIndex, 'redacted', { type: 'redacted_thinking', data: Buffer.from(r.redactedContent).toString('base64') });
        return;
      }
      this.ensure(out, converseIndex, 'thinking', { type: 'thinking', thinking: '', signature: '' });
      if (r.text !== undefined && r.text.length > 0) {
        out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'thinking_delta', thinking: r.text } });
      } else if (r.signature !== undefined) {
        out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'signature_delta', signature: r.signature } });
      }
    }
    // citation / image / toolResult deltas have no canonical counterpart for these models and are dropped.
  }

  /** Makes sure the block for `converseIndex` is open with the given kind (opening a new one if needed). */
  private ensure(out: CanonicalEvent[], converseIndex: number, kind: OpenBlock, start: Extract<CanonicalEvent, { type: 'content_block_start' }>['content_block']): void {
    if (this.open && this.open.converse === converseIndex && this.open.kind === kind) return;
    this.openBlock(out, converseIndex, kind, start);
  }

  private openBlock(out: CanonicalEvent[], converseIndex: number, kind: OpenBlock, start: Extract<CanonicalEvent, { type: 'content_block_start' }>['content_block']): void {
    this.closeBlock(out);
    const index = this.nextIndex++;
    this.open = { converse: converseIndex, index, kind };
    out.push({ type: 'content_block_start', index, content_block: start });
  }

  private closeBlock(out: CanonicalEvent[]): void {
    if (!this.open) return;
    out.push({ type: 'content_block_stop', index: this.open.index });
    this.open = undefined;
  }
}

/** A Converse (non-streamed) output -> canonical content blocks. */
export function fromConverseContent(output: ConverseOutput | undefined): ContentBlock[] {
  const content: ContentBlock[] = [];
  for (const block of output?.message?.content ?? []) {
    if (block.text !== undefined) {
      content.push({ type: 'text', text: block.text });
    } else if (block.toolUse) {
      content.push({
        type: 'tool_use',
        id: block.toolUse.toolUseId ?? '',
        name: block.toolUse.name ?? '',
        input: (block.toolUse.input ?? {}) as Record<string, unknown>,
      });
    } else if (block.reasoningContent?.reasoningText) {
      content.push({
        type: 'thinking',
        thinking: block.reasoningContent.reasoningText.text ?? '',
        signature: block.reasoningContent.reasoningText.signature ?? '',
      });
    } else if (block.reasoningContent?.redactedContent) {
      content.push({ type: 'redacted_thinking', data: Buffer.from(block.reasoningContent.redactedContent).toString('base64') });
    }
  }
  return content;
}

export function messageIdFor(requestId: string): string {
  return `msg_bdrk_${requestId.replace(/[^A-Za-z0-9]/g, '')}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The upstream
// ---------------------------------------------------------------------------------------------------------------------

export class BedrockConverseUpstream implements Upstream {
  public readonly kind = 'bedrock-converse' as const;

  constructor(private readonly client: BedrockRuntimeClient, private readonly timeouts: UpstreamTimeouts) {}

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    const input = toConverseInput(call.request, call.model);
    const translator = new ConverseTranslator(call.request.model, messageIdFor(call.requestId));
    const control = new CallControl(call.signal, this.timeouts, 'stream');
    yield* runStream(control, WHAT, {
      open: async () => {
        const response = await this.client.send(new ConverseStreamCommand(input), { abortSignal: control.signal });
        if (!response.stream) throw new UpstreamError('internal', `${WHAT} returned no response stream`);
        return response.stream;
      },
      translate: (event) => {
        control.activity();
        return translator.push(event);
      },
      end: () => translator.end(),
    });
  }

  async complete(call: UpstreamCall): Promise<MessageResponse> {
    const input = toConverseInput(call.request, call.model);
    const control = new CallControl(call.signal, this.timeouts, 'complete');
    try {
      const response = await this.client.send(new ConverseCommand(input), { abortSignal: control.signal });
      return {
        id: messageIdFor(call.requestId),
        type: 'message',
        role: 'assistant',
        model: call.request.model,
        content: fromConverseContent(response.output),
        stop_reason: mapStopReason(response.stopReason),
        stop_sequence: stopSequenceOf(response.additionalModelResponseFields),
        usage: mapUsage(response.usage),
      };
    } catch (err) {
      throw toUpstreamError(err, WHAT, control.signal);
    } finally {
      control.finish();
    }
  }

  async countTokens(call: UpstreamCall): Promise<number | undefined> {
    if (!call.model.countTokens) return undefined;
    const input = toConverseInput(call.request, call.model);
    const control = new CallControl(call.signal, this.timeouts, 'complete');
    try {
      const response = await this.client.send(new CountTokensCommand({
        modelId: foundationModelId(call.model.target),
        input: {
          converse: {
            messages: input.messages,
            ...(input.system ? { system: input.system } : {}),
            ...(input.toolConfig ? { toolConfig: input.toolConfig } : {}),
          },
        },
      }), { abortSignal: control.signal });
      return typeof response.inputTokens === 'number' ? response.inputTokens : undefined;
    } catch (err) {
      const error = toUpstreamError(err, WHAT, control.signal);
      if (error.kind === 'validation' || error.kind === 'not_found' || error.kind === 'access_denied') return undefined;
      throw error;
    } finally {
      control.finish();
    }
  }
}
