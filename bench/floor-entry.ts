/**
 * The cold-start floor: a function that contains only the Bedrock Runtime client and streams one model call. Bundled by
 * bench/build.ts with the same esbuild settings as assets/streaming-proxy, for comparison with it.
 */
import { BedrockRuntimeClient, InvokeModelWithResponseStreamCommand } from '@aws-sdk/client-bedrock-runtime';

const client = new BedrockRuntimeClient({});

export async function handler(event: { modelId: string; body: string }): Promise<number> {
  const response = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: event.modelId, body: event.body, contentType: 'application/json' }));
  let chunks = 0;
  for await (const part of response.body ?? []) if (part.chunk) chunks++;
  return chunks;
}
