/**
 * The gateway table in a test DynamoDB (moto): created with the layout of lambda/shared/gateway/schema.ts, and key
 * items written the way `cdk-serverless-llm keys create` writes them.
 */
import { createHash } from 'crypto';
import { CreateTableCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { KEY_SK, keyPk, NAME_SK, namePk, type KeyPolicy, type KeyRecord } from '../../lambda/shared/gateway/schema';

export function dynamoClient(url: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

export async function createGatewayTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
  }));
  await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }));
}

export function digestOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export async function putKey(client: DynamoDBClient, tableName: string, name: string, key: string, policy: KeyPolicy = {}): Promise<void> {
  const digest = digestOf(key);
  const record: KeyRecord = { name, digest, hint: key.slice(0, 11), createdAt: new Date().toISOString(), ...policy };
  const item = marshall({ pk: keyPk(digest), sk: KEY_SK, ...record }, { removeUndefinedValues: true });
  await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
  await client.send(new PutItemCommand({ TableName: tableName, Item: marshall({ pk: namePk(name), sk: NAME_SK, digest }) }));
}

export async function disableKey(client: DynamoDBClient, tableName: string, key: string): Promise<void> {
  await client.send(new UpdateItemCommand({
    TableName: tableName,
    Key: marshall({ pk: keyPk(digestOf(key)), sk: KEY_SK }),
    UpdateExpression: 'SET disabled = :t',
    ExpressionAttributeValues: marshall({ ':t': true }),
  }));
}
