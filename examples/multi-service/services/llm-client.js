'use strict';
// Calls the LLM proxy's Anthropic Messages endpoint through its IAM-authenticated function URL. The request is signed
// with SigV4 for the `lambda` service using the calling function's own credentials, and carries the SHA-256 of the
// body in `x-amz-content-sha256`, which Lambda function URLs require for signed POST bodies.
//
// @smithy/signature-v4 and @aws-crypto/sha256-js are part of the AWS SDK for JavaScript v3 that the Lambda Node.js
// runtime (and the public.ecr.aws/lambda/nodejs base image) ships, so the service has no dependencies to install.
const crypto = require('node:crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

/** The credentials Lambda gives the function in its environment. */
function credentialsFromEnvironment(env = process.env) {
  return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
}

/**
 * Sends one non-streaming Messages request and returns the text of the reply.
 *
 * @param {object} options
 * @param {string} options.baseUrl the proxy URL (the `<prefix>/url` SSM parameter), e.g. https://abc.lambda-url.us-east-1.on.aws/
 * @param {string} options.model a model name of the proxy's catalogue
 * @param {string} options.prompt the user message
 * @param {string} [options.system] the system prompt
 * @param {number} [options.maxTokens]
 * @param {string} options.region the region of the function URL
 * @param {object} [options.credentials] AWS credentials (default: the function's)
 * @param {Date} [options.signingDate] for tests
 */
async function complete(options) {
  const url = new URL('v1/messages', options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const body = JSON.stringify({
    model: options.model,
    max_tokens: options.maxTokens ?? 1024,
    ...(options.system ? { system: options.system } : {}),
    messages: [{ role: 'user', content: options.prompt }],
  });
  const signer = new SignatureV4({
    service: 'lambda',
    region: options.region,
    credentials: options.credentials ?? credentialsFromEnvironment(),
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers: {
      host: url.host,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-amz-content-sha256': crypto.createHash('sha256').update(body).digest('hex'),
    },
    body,
  }, options.signingDate ? { signingDate: options.signingDate } : undefined);
  const { host: _host, ...headers } = signed.headers;
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`The LLM proxy answered ${response.status}: ${text.slice(0, 500)}`);
  }
  const message = JSON.parse(text);
  return message.content.filter((block) => block.type === 'text').map((block) => block.text).join('');
}

module.exports = { complete, credentialsFromEnvironment };
