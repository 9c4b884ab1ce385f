import type { StopReason, Usage } from '../../shared/canonical';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** Anthropic usage -> OpenAI usage: prompt tokens include the cached and cache-written input. */
export function openAiUsage(usage: Usage): OpenAiUsage {
  const cached = usage.cache_read_input_tokens ?? 0;
  const prompt = usage.input_tokens + cached + (usage.cache_creation_input_tokens ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output_tokens,
    total_tokens: prompt + usage.output_tokens,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export function finishReason(stop: StopReason | null): FinishReason | null {
  switch (stop) {
    case null:
      return null;
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}
