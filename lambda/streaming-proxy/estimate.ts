/**
 * A rough input-token estimate for when the upstream cannot count (count_tokens answers say so): about four characters
 * per token for text and JSON, Anthropic's published per-image approximation for images, and per-page for PDFs.
 */
import type { CanonicalRequest, ContentBlock, ToolReferenceBlock } from '../shared/canonical';

const CHARS_PER_TOKEN = 4;
/** ~1.15 megapixel image (Anthropic's "about 1,600 tokens" for a full-size image). */
const IMAGE_TOKENS = 1600;
/** Per PDF page (text plus page image), with ~75 KB of base64 per page as a size proxy. */
const PDF_TOKENS_PER_PAGE = 1500;
const PDF_BASE64_BYTES_PER_PAGE = 75_000;
const MESSAGE_OVERHEAD = 4;

export function estimateInputTokens(request: Pick<CanonicalRequest, 'messages' | 'system' | 'tools'>): number {
  let chars = 0;
  let tokens = 0;
  if (typeof request.system === 'string') chars += request.system.length;
  else for (const b of request.system ?? []) chars += b.text.length;
  for (const tool of request.tools ?? []) chars += JSON.stringify(tool).length;
  for (const message of request.messages) {
    tokens += MESSAGE_OVERHEAD;
    if (typeof message.content === 'string') {
      chars += message.content.length;
      continue;
    }
    for (const block of message.content) {
      const b = blockSize(block);
      chars += b.chars;
      tokens += b.tokens;
    }
  }
  return tokens + Math.ceil(chars / CHARS_PER_TOKEN);
}

function blockSize(block: ContentBlock | ToolReferenceBlock): { chars: number; tokens: number } {
  switch (block.type) {
    case 'text':
      return { chars: block.text.length, tokens: 0 };
    case 'image':
      return { chars: 0, tokens: IMAGE_TOKENS };
    case 'document': {
      const s = block.source;
      if (s.type === 'base64') return { chars: 0, tokens: Math.max(1, Math.ceil(s.data.length / PDF_BASE64_BYTES_PER_PAGE)) * PDF_TOKENS_PER_PAGE };
      if (s.type === 'text') return { chars: s.data.length, tokens: 0 };
      if (s.type === 'content') return { chars: JSON.stringify(s.content).length, tokens: 0 };
      return { chars: 0, tokens: PDF_TOKENS_PER_PAGE };
    }
    case 'tool_use':
      return { chars: block.name.length + JSON.stringify(block.input).length, tokens: 0 };
    case 'tool_result': {
      if (typeof block.content === 'string' || block.content === undefined) return { chars: block.content?.length ?? 0, tokens: 0 };
      let chars = 0;
      let tokens = 0;
      for (const inner of block.content) {
        const s = blockSize(inner);
        chars += s.chars;
        tokens += s.tokens;
      }
      return { chars, tokens };
    }
    case 'thinking':
      return { chars: block.thinking.length, tokens: 0 };
    case 'redacted_thinking':
      return { chars: block.data.length, tokens: 0 };
    case 'server_tool_use':
      return { chars: block.name.length + JSON.stringify(block.input ?? null).length, tokens: 0 };
    case 'tool_search_tool_result':
      return { chars: JSON.stringify(block.content).length, tokens: 0 };
    case 'tool_reference':
      return { chars: block.tool_name.length, tokens: 0 };
    default:
      return { chars: 0, tokens: 0 };
  }
}
