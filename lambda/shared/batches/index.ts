/**
 * The deployed batch stores (DynamoDB, SQS, S3): loaded on first use (a separate file of the Lambda bundle,
 * build-tools/bundle.ts), so a proxy without batches never loads the SQS and S3 clients.
 */
export {
  BedrockInferenceJobs,
  type BedrockInferenceJobsOptions,
  createAwsBatchBackends,
  type AwsBatchConfig,
  DynamoBatchStore,
  S3BatchObjects,
  SqsBatchQueue,
  type DynamoBatchStoreOptions,
  type S3BatchObjectsOptions,
  type SqsBatchQueueOptions,
} from './aws';
