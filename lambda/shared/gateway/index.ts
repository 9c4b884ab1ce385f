/** The DynamoDB gateway store: loaded on first use (a separate file of the Lambda bundle, build-tools/bundle.ts). */
export { DynamoGateway, type DynamoGatewayOptions } from './dynamodb';
