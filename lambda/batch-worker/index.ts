/**
 * The Message Batches worker Lambda (SQS event source with ReportBatchItemFailures; assets/batch-worker/index.js).
 * Configuration is the proxy's (PROXY_*, PROXY_BATCH_*) without authentication (loadWorkerConfig), read and validated
 * once at init: a bad value fails the init with a message naming the variable.
 */
import { createSqsHandler } from './sqs';
import { createBatchWorkerApp } from '../streaming-proxy/app';
import { loadWorkerConfig } from '../streaming-proxy/config';

export const handler = createSqsHandler(createBatchWorkerApp(loadWorkerConfig(process.env)));
