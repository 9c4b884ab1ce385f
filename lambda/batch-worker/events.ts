/**
 * The batch worker Lambda's events: SQS batches of queued requests (./sqs.ts), and — with Bedrock batch inference
 * (StreamingLlmProxy `batches.batchInference`) — EventBridge's "Batch Inference Job State Change" events from
 * `aws.bedrock`, each of which settles its job (lambda/streaming-proxy/batches/inference.ts). A settle that throws fails
 * the invocation, so Lambda's asynchronous retries (and EventBridge's) deliver the event again; settling is idempotent.
 */
import type { EventBridgeEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createSqsHandler, defaultWarn, type SqsHandlerOptions } from './sqs';
import type { BatchWorker } from '../shared/batches/types';
import type { InferenceSettler } from '../streaming-proxy/batches/inference';

export type JobStateEvent = EventBridgeEvent<'Batch Inference Job State Change', Record<string, unknown>>;
export type WorkerEvent = SQSEvent | JobStateEvent;
export type WorkerHandler = (event: WorkerEvent) => Promise<SQSBatchResponse | void>;

const JOB_ARN = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:model-invocation-job\/[a-z0-9]+$/;

/** The job an event is about: `detail.batchJobArn` (or `jobArn`), else the event's `resources`. */
export function jobArnOf(event: JobStateEvent): string | undefined {
  const detail = event.detail ?? {};
  const candidates = [detail.batchJobArn, detail.jobArn, ...(Array.isArray(event.resources) ? event.resources : [])];
  return candidates.find((c): c is string => typeof c === 'string' && JOB_ARN.test(c));
}

export function createWorkerHandler(worker: BatchWorker, settler: InferenceSettler | undefined, options: SqsHandlerOptions = {}): WorkerHandler {
  const sqs = createSqsHandler(worker, options);
  const warn = options.warn ?? defaultWarn;
  return async (event: WorkerEvent): Promise<SQSBatchResponse | void> => {
    if (Array.isArray((event as SQSEvent).Records)) return sqs(event as SQSEvent);
    const job = event as JobStateEvent;
    if (job.source !== 'aws.bedrock') {
      warn('Ignored an event the batch worker does not handle', { source: String(job.source), detailType: String(job['detail-type']) });
      return;
    }
    const arn = jobArnOf(job);
    if (!arn || !settler) {
      warn(arn ? 'Ignored a batch inference event: batch inference is not configured' : 'Ignored a Bedrock event that names no batch inference job', { id: job.id });
      return;
    }
    const outcome = await settler.settle(arn);
    if (outcome === 'unknown') warn('Ignored a batch inference job this proxy did not create (or whose batch is deleted)', { jobArn: arn });
  };
}
