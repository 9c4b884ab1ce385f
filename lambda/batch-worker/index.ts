/**
 * The Message Batches worker Lambda (SQS event source with ReportBatchItemFailures; assets/batch-worker/index.js).
 * Configuration is the proxy's (PROXY_*, PROXY_BATCH_*), read and validated once at init.
 */
import { createSqsHandler } from './sqs';
import { createBatchWorkerApp } from '../streaming-proxy/batches/worker';
import { loadConfig } from '../streaming-proxy/config';

export const handler = createSqsHandler(createBatchWorkerApp(loadConfig(process.env)));
