'use strict';
// Ticket triage service (shipped as a container image): { "subject", "body" } -> { "category", "priority" }.
const { complete } = require('./llm-client');
const { loadConfig } = require('./config');
const { CATEGORIES, PRIORITIES, parseTriage } = require('./triage-rules');

exports.handler = async (event) => {
  if (!event || typeof event.subject !== 'string' || typeof event.body !== 'string') {
    throw new Error('Expected an event { "subject": "...", "body": "..." }.');
  }
  const config = await loadConfig({
    proxyUrl: process.env.PROXY_URL_PARAMETER,
    model: process.env.MODEL_PARAMETER,
  });
  const reply = await complete({
    baseUrl: config.proxyUrl,
    model: config.model,
    maxTokens: 200,
    region: process.env.AWS_REGION,
    system: `Classify the support ticket. Answer with JSON only: {"category": one of ${JSON.stringify(CATEGORIES)}, ` +
      `"priority": one of ${JSON.stringify(PRIORITIES)}}.`,
    prompt: `Subject: ${event.subject}\n\n${event.body}`,
  });
  return parseTriage(reply);
};
