/**
 * Feeds an SQS-triggered handler real SQS messages, the way Lambda's event source mapping does: ReceiveMessage (with the
 * system attributes, so ApproximateReceiveCount is the real delivery count), an SQSEvent built from those messages,
 * the handler, then DeleteMessage for the records it did not name in `batchItemFailures` (ReportBatchItemFailures).
 * A failed record stays in the queue and is delivered again after the queue's visibility timeout.
 *
 * Short polls only (WaitTimeSeconds 0), so it also works against a serial moto server.
 */
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsEventHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface DrainOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsEventHandler;
  /** Records per event (the event source's batch size; 1–10). Default 5. */
  readonly batchSize?: number;
  /** Stop when this answers true (checked after every event and every empty poll). Default: when the queue is empty. */
  readonly until?: () => boolean | Promise<boolean>;
  /** Give up (throw) after this long. Default 60 s. */
  readonly timeoutMs?: number;
  /** Pause after an empty poll. Default 100 ms. */
  readonly idleMs?: number;
  /** Called after each event with what happened (for progress lines and assertions). */
  readonly onEvent?: (report: DrainEventReport) => void;
}

export interface DrainEventReport {
  readonly bodies: readonly string[];
  readonly attempts: readonly number[];
  readonly failed: readonly string[];
}

export interface DrainStats {
  /** Events handed to the handler. */
  events: number;
  /** Records handed to the handler (deliveries). */
  deliveries: number;
  /** Records the handler reported as failed (left for redelivery). */
  failures: number;
  /** Records deleted after the handler. */
  deleted: number;
}

/** The SQSRecord Lambda would deliver for a received message. */
export function sqsRecord(message: Message, queueUrl: string, region = 'us-east-1'): SQSRecord {
  const a = message.Attributes ?? {};
  const [account, name] = new URL(queueUrl).pathname.split('/').filter(Boolean);
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'AIDATESTMOTO',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region}:${account ?? '123456789012'}:${name ?? 'queue'}`,
    awsRegion: region,
  };
}

async function queueEmpty(sqs: SQSClient, queueUrl: string): Promise<boolean> {
  const out = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
  }));
  const a = out.Attributes ?? {};
  const count = (name: keyof typeof a) => Number(a[name] ?? 0);
  return count('ApproximateNumberOfMessages') + count('ApproximateNumberOfMessagesNotVisible') + count('ApproximateNumberOfMessagesDelayed') === 0;
}

export async function drainQueue(options: DrainOptions): Promise<DrainStats> {
  const { sqs, queueUrl, handler } = options;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const until = options.until ?? (() => queueEmpty(sqs, queueUrl));
  const stats: DrainStats = { events: 0, deliveries: 0, failures: 0, deleted: 0 };
  for (;;) {
    if (await until()) return stats;
    if (Date.now() > deadline) throw new Error(`the queue was not drained within ${options.timeoutMs ?? 60_000} ms: ${JSON.stringify(stats)}`);
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.batchSize ?? 5,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, options.idleMs ?? 100));
      continue;
    }
    const records = messages.map((m) => sqsRecord(m, queueUrl));
    const response = await handler({ Records: records });
    const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    stats.events++;
    stats.deliveries += records.length;
    stats.failures += failed.size;
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) {
      await sqs.send(new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }));
      stats.deleted += done.length;
    }
    options.onEvent?.({
      bodies: records.map((r) => r.body),
      attempts: records.map((r) => Number(r.attributes.ApproximateReceiveCount)),
      failed: records.filter((r) => failed.has(r.messageId)).map((r) => r.body),
    });
  }
}
