import { BadEventError, parseEvent } from '../../lambda/streaming-proxy/http';
import { detectProtocol, matchRoute } from '../../lambda/streaming-proxy/router';

describe('parseEvent', () => {
  test('reads a Function URL (payload 2.0) event, including base64 bodies and the IAM caller', () => {
    const request = parseEvent({
      version: '2.0',
      rawPath: '/api/v1/messages',
      rawQueryString: 'a=1&b=two',
      headers: { 'X-Api-Key': 'k', 'content-type': 'application/json' },
      cookies: ['c=1'],
      body: Buffer.from('{"x":1}').toString('base64'),
      isBase64Encoded: true,
      requestContext: {
        requestId: 'ignored',
        http: { method: 'post', path: '/api/v1/messages', sourceIp: '203.0.113.9' },
        authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/dev' } },
      },
    }, 'req-1');
    expect(request).toMatchObject({
      method: 'POST',
      path: '/api/v1/messages',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json', 'cookie': 'c=1' },
      requestId: 'req-1',
      iamPrincipal: 'arn:aws:iam::123456789012:user/dev',
      sourceIp: '203.0.113.9',
    });
    expect(request.query.get('b')).toBe('two');
    expect(request.body.toString()).toBe('{"x":1}');
  });

  test('reads an API Gateway REST proxy (payload 1.0) event with multi-value headers and query', () => {
    const request = parseEvent({
      httpMethod: 'POST',
      path: '/prod/v1/chat/completions',
      headers: { Authorization: 'Bearer x' },
      multiValueHeaders: { 'Anthropic-Beta': ['a', 'b'] },
      queryStringParameters: { format: 'x' },
      multiValueQueryStringParameters: { format: ['openai'] },
      body: '{"model":"m"}',
      isBase64Encoded: false,
      requestContext: { identity: { userArn: 'arn:aws:sts::123456789012:assumed-role/r/s', sourceIp: '198.51.100.1' } },
    }, 'req-2');
    expect(request).toMatchObject({
      method: 'POST',
      path: '/prod/v1/chat/completions',
      headers: { 'authorization': 'Bearer x', 'anthropic-beta': 'a, b' },
      iamPrincipal: 'arn:aws:sts::123456789012:assumed-role/r/s',
    });
    expect(request.query.get('format')).toBe('openai');
    expect(request.body.toString()).toBe('{"model":"m"}');
  });

  test('refuses events that are not HTTP events', () => {
    for (const event of [null, 'x', {}, { Records: [] }, { httpMethod: 'GET' }]) {
      expect(() => parseEvent(event, 'r')).toThrow(BadEventError);
    }
  });
});

describe('matchRoute', () => {
  test('matches on the path suffix, ignoring prefixes and trailing slashes', () => {
    expect(matchRoute('POST', '/v1/messages')).toMatchObject({ route: 'messages', allowed: true });
    expect(matchRoute('POST', '/api/v1/messages/')).toMatchObject({ route: 'messages', allowed: true });
    expect(matchRoute('POST', '/prod/api/v1/messages/count_tokens')).toMatchObject({ route: 'count_tokens' });
    expect(matchRoute('POST', '/v1/chat/completions')).toMatchObject({ route: 'chat_completions' });
    expect(matchRoute('GET', '/api/v1/models')).toMatchObject({ route: 'models', allowed: true });
    expect(matchRoute('GET', '/v1/models/claude-sonnet-4-6%5B1m%5D')).toMatchObject({ route: 'model', modelId: 'claude-sonnet-4-6[1m]' });
    expect(matchRoute('HEAD', '/health')).toMatchObject({ route: 'health', allowed: true });
    expect(matchRoute('GET', '/v1/messages')).toMatchObject({ route: 'messages', allowed: false, methods: ['POST'] });
    expect(matchRoute('GET', '/ping')).toBeUndefined();
    expect(matchRoute('POST', '/v1/messagesX')).toBeUndefined();
  });
});

describe('detectProtocol', () => {
  const q = new URLSearchParams();
  test('fixes the protocol for the protocol-specific routes', () => {
    expect(detectProtocol('messages', { authorization: 'Bearer x' }, q)).toBe('anthropic');
    expect(detectProtocol('chat_completions', { 'anthropic-version': '2023-06-01' }, q)).toBe('openai');
  });

  test('answers shared routes in the Anthropic shape unless the OpenAI conventions are used', () => {
    expect(detectProtocol('models', {}, q)).toBe('anthropic');
    expect(detectProtocol('models', { 'x-api-key': 'k' }, q)).toBe('anthropic');
    expect(detectProtocol('models', { 'authorization': 'Bearer k', 'anthropic-version': '2023-06-01' }, q)).toBe('anthropic');
    expect(detectProtocol('models', { authorization: 'Bearer k' }, q)).toBe('openai');
    expect(detectProtocol('models', { 'x-api-key': 'k' }, new URLSearchParams('format=openai'))).toBe('openai');
    expect(detectProtocol(undefined, { authorization: 'bearer k' }, q)).toBe('openai');
  });
});
