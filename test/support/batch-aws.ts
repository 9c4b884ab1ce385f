/**
 * The deployed batch stores' AWS resources in moto (test/support/moto-server.ts): a table with the gateway table's key
 * schema (lambda/shared/batches/aws.ts), a queue and a bucket, and clients for reading them back in assertions.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createGatewayTable } from './gateway-table';
import type { MotoServer } from './moto-server';

/** The services the batch stores use, for MotoServer.env. */
export const BATCH_SERVICES = ['DYNAMODB', 'SQS', 'S3'] as const;

const CREDENTIALS = { accessKeyId: 'AKIDTESTMOTO', secretAccessKey: 'test-secret-for-moto' };

export interface BatchResources {
  readonly tableName: string;
  readonly queueUrl: string;
  readonly bucket: string;
  readonly dynamo: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  destroy(): void;
}

let created = 0;

/**
 * A fresh table, queue and bucket (names unique in this process). `visibilityTimeoutSeconds` is the queue's (small, so
 * a message whose delivery failed is seen again soon; default 2).
 */
export async function createBatchResources(moto: MotoServer, options: { readonly visibilityTimeoutSeconds?: number } = {}): Promise<BatchResources> {
  const n = ++created;
  const suffix = `${process.pid}-${n}`;
  const dynamo = new DynamoDBClient({ endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS });
  const sqs = new SQSClient({ endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS });
  const s3 = new S3Client({ endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS, forcePathStyle: true });
  const tableName = `batches-${suffix}`;
  await createGatewayTable(dynamo, tableName);
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: `batch-jobs-${suffix}`,
    Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 2) },
  }));
  const bucket = `batch-objects-${suffix}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    tableName,
    queueUrl: queue.QueueUrl!,
    bucket,
    dynamo,
    sqs,
    s3,
    destroy() {
      dynamo.destroy();
      sqs.destroy();
      s3.destroy();
    },
  };
}

/** The PROXY_BATCH_* settings for these resources (lambda/streaming-proxy/config.ts). */
export function batchEnv(resources: Pick<BatchResources, 'tableName' | 'queueUrl' | 'bucket'>): Record<string, string> {
  return { PROXY_BATCH_TABLE: resources.tableName, PROXY_BATCH_QUEUE_URL: resources.queueUrl, PROXY_BATCH_BUCKET: resources.bucket };
}
