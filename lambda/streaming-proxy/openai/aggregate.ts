/**
 * A complete canonical response (MessageResponse) -> an OpenAI `chat.completion` object, for stream:false requests.
 */
import { finishReason, openAiUsage, type FinishReason, type OpenAiUsage } from './usage';
import type { MessageResponse } from '../../shared/canonical';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: Array<{
    index: 0;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: null;
      tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
      reasoning_content?: string;
    };
    logprobs: null;
    finish_reason: FinishReason | null;
  }>;
  usage: OpenAiUsage;
}

export function toChatCompletion(response: MessageResponse, clientModel: string, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  let text: string | null = null;
  let reasoning: string | undefined;
  const toolCalls: NonNullable<ChatCompletion['choices'][0]['message']['tool_calls']> = [];
  for (const block of response.content) {
    if (block.type === 'text') {text = (text ?? '') + block.text;} else if (block.type === 'thinking') {reasoning = (reasoning ?? '') + block.thinking;} else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } });
    }
  }
  const message: ChatCompletion['choices'][0]['message'] = { role: 'assistant', content: text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  return {
    id: `chatcmpl-${response.id}`,
    object: 'chat.completion',
    created,
    model: clientModel,
    system_fingerprint: null,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(response.stop_reason) }],
    usage: openAiUsage(response.usage),
  };
}
