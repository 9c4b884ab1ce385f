import { createLineMeter, createPowertoolsMeter, estimateCost, UsageTracker, type RequestRecord } from '../../lambda/streaming-proxy/metering';

const record: RequestRecord = {
  requestId: 'req_1',
  method: 'POST',
  path: '/v1/messages',
  route: 'messages',
  protocol: 'anthropic',
  status: 200,
  outcome: 'ok',
  identity: 'alice',
  model: 'claude-sonnet-4-6',
  target: 'global.anthropic.x',
  stream: true,
  inputTokens: 1000,
  outputTokens: 500,
  cacheReadInputTokens: 2000,
  cacheWriteInputTokens: 100,
  estimatedCost: 0.0123,
  timeToFirstTokenMs: 42,
  durationMs: 900,
};

describe('estimateCost', () => {
  test('prices input, output and cache tokens per million', () => {
    const pricing = { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 };
    expect(estimateCost(record, pricing)).toBeCloseTo((1000 * 3 + 500 * 15 + 100 * 3.75 + 2000 * 0.3) / 1e6, 12);
    expect(estimateCost(record, { inputPerMTok: 1, outputPerMTok: 2 })).toBeCloseTo((1000 + 1000 + 100 * 1.25 + 2000 * 0.1) / 1e6, 12);
    expect(estimateCost(record, undefined)).toBeUndefined();
  });
});

describe('UsageTracker', () => {
  test('takes input usage from message_start and final usage from message_delta, and the first token time', () => {
    let now = 100;
    const tracker = new UsageTracker(() => now);
    tracker.observe({ type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', model: 'x', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5 } } });
    now = 150;
    tracker.observe({ type: 'ping' });
    now = 170;
    tracker.observe({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    now = 200;
    tracker.observe({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30, cache_creation_input_tokens: null } });
    expect(tracker.usage).toEqual({ input_tokens: 10, output_tokens: 30, cache_read_input_tokens: 5 });
    expect(tracker.firstTokenAt).toBe(170);
    expect(tracker.totalTokens).toBe(45);
  });
});

describe('createPowertoolsMeter', () => {
  test('writes a structured log line and one EMF document with the contract metric names', () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const meter = createPowertoolsMeter({ serviceName: 'llm-proxy-test', namespace: 'TestNs', logLevel: 'INFO' });
      meter.record({ ...record, outcome: 'upstream_throttled', status: 429, rateLimiterUnavailable: true });
    } finally {
      spy.mockRestore();
    }
    const docs = lines.join('').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    const log = docs.find((d) => d.message === 'request');
    expect(log).toMatchObject({ level: 'INFO', service: 'llm-proxy-test', identity: 'alice', model: 'claude-sonnet-4-6', inputTokens: 1000, outcome: 'upstream_throttled' });
    const emf = docs.find((d) => d._aws);
    const directive = emf._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe('TestNs');
    expect(directive.Dimensions).toEqual([['service']]);
    expect(emf.service).toBe('llm-proxy-test');
    const names = directive.Metrics.map((m: { Name: string }) => m.Name);
    expect(names).toEqual(['Requests', 'InputTokens', 'OutputTokens', 'CacheReadInputTokens', 'CacheWriteInputTokens', 'EstimatedCost', 'TimeToFirstToken',
      'Duration', 'ClientErrors', 'UpstreamErrors', 'UpstreamThrottles', 'RateLimited', 'RateLimiterUnavailable']);
    expect(emf).toMatchObject({
      Requests: 1,
      InputTokens: 1000,
      OutputTokens: 500,
      CacheReadInputTokens: 2000,
      CacheWriteInputTokens: 100,
      EstimatedCost: 0.0123,
      TimeToFirstToken: 42,
      Duration: 900,
      ClientErrors: 0,
      UpstreamErrors: 1,
      UpstreamThrottles: 1,
      RateLimited: 0,
      RateLimiterUnavailable: 1,
      model: 'claude-sonnet-4-6',
      identity: 'alice',
    });
    expect(directive.Metrics.find((m: { Name: string }) => m.Name === 'TimeToFirstToken').Unit).toBe('Milliseconds');
  });
});

describe('createPowertoolsMeter spend per key', () => {
  function emfDocs(r: RequestRecord): Array<Record<string, any>> {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      createPowertoolsMeter({ serviceName: 'llm-proxy-test', namespace: 'TestNs', logLevel: 'INFO' }).record(r);
    } finally {
      spy.mockRestore();
    }
    return lines.join('').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)).filter((d) => d._aws);
  }

  test('a request of a named key also writes KeyEstimatedCost per key, and per key and model', () => {
    const docs = emfDocs({ ...record, key: 'alice', team: 'search' });
    const perKey = docs.filter((d) => d._aws.CloudWatchMetrics[0].Metrics.some((m: { Name: string }) => m.Name === 'KeyEstimatedCost'));
    expect(perKey.map((d) => d._aws.CloudWatchMetrics[0].Dimensions)).toEqual([[['service', 'key']], [['service', 'key', 'model']]]);
    expect(perKey[0]).toMatchObject({ service: 'llm-proxy-test', key: 'alice', KeyEstimatedCost: 0.0123 });
    expect(perKey[1]).toMatchObject({ service: 'llm-proxy-test', key: 'alice', model: 'claude-sonnet-4-6', KeyEstimatedCost: 0.0123 });
  });

  test('a key with a team also writes TeamEstimatedCost per team; a key without one writes no team document', () => {
    const teamDocs = (docs: Array<Record<string, any>>) =>
      docs.filter((d) => d._aws.CloudWatchMetrics[0].Metrics.some((m: { Name: string }) => m.Name === 'TeamEstimatedCost'));
    const withTeam = teamDocs(emfDocs({ ...record, key: 'alice', team: 'search' }));
    expect(withTeam.map((d) => d._aws.CloudWatchMetrics[0].Dimensions)).toEqual([[['service', 'team']]]);
    expect(withTeam[0]).toMatchObject({ service: 'llm-proxy-test', team: 'search', TeamEstimatedCost: 0.0123 });
    expect(withTeam[0].key).toBeUndefined();
    expect(teamDocs(emfDocs({ ...record, key: 'alice', team: undefined }))).toHaveLength(0);
  });

  test('without a key (a request refused before authentication) there is no per-key document', () => {
    expect(emfDocs({ ...record, key: undefined })).toHaveLength(1);
  });
});

describe('createLineMeter', () => {
  test('writes one readable line per request', () => {
    const lines: string[] = [];
    createLineMeter((l) => lines.push(l)).record({ ...record, outcome: 'client_error', status: 400, error: 'max_tokens: is required' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} POST \/v1\/messages 400 claude-sonnet-4-6 stream in=1000 out=500 cache=2000r\/100w ttft=42ms 900ms id=alice client_error "max_tokens: is required"$/);
  });
});
