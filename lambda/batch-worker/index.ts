/**
 * The Message Batches worker Lambda (assets/batch-worker/index.js): the SQS event source with ReportBatchItemFailures
 * (one queued request per record) and, with Bedrock batch inference, EventBridge's job state changes (./events.ts).
 * Configuration is the proxy's (PROXY_*, PROXY_BATCH_*) without authentication (loadWorkerConfig), read and validated
 * once at init: a bad value fails the init with a message naming the variable.
 */
import { createWorkerHandler } from './events';
import { createBatchWorkerApps } from '../streaming-proxy/app';
import { loadWorkerConfig } from '../streaming-proxy/config';

const { worker, settler } = createBatchWorkerApps(loadWorkerConfig(process.env));
export const handler = createWorkerHandler(worker, settler);
