'use strict';
// Summarizer service: { "text": "..." } -> { "summary": "..." }. Other teams invoke it (often asynchronously);
// failed asynchronous invocations land in its dead-letter queue.
const { complete } = require('./llm-client');
const { loadConfig } = require('./config');

exports.handler = async (event) => {
  if (!event || typeof event.text !== 'string' || event.text.trim() === '') {
    throw new Error('Expected an event { "text": "<document>" }.');
  }
  const config = await loadConfig({
    proxyUrl: process.env.PROXY_URL_PARAMETER,
    model: process.env.MODEL_PARAMETER,
    maxTokens: process.env.MAX_TOKENS_PARAMETER,
  });
  const summary = await complete({
    baseUrl: config.proxyUrl,
    model: config.model,
    maxTokens: Number(config.maxTokens),
    region: process.env.AWS_REGION,
    system: 'Summarize the document for a busy reader in at most five bullet points. Answer with the bullets only.',
    prompt: event.text,
  });
  return { summary };
};
