/**
 * A loopback Secrets Manager speaking the service's awsJson1_1 wire protocol (GetSecretValue only), so the real
 * @aws-sdk/client-secrets-manager can be pointed at it with `endpoint`. Secrets can be changed and failures injected.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

export class FakeSecretsManager {
  /** The AWSCURRENT value of each secret, by ARN. */
  public readonly secrets = new Map<string, string>();
  /** The AWSPREVIOUS value of each rotated secret, by ARN (a secret never rotated has none). */
  public readonly previous = new Map<string, string>();
  /** The version stages asked for, in order (AWSCURRENT when the request names none). */
  public readonly stagesRequested: string[] = [];
  /** Requests served (GetSecretValue calls). */
  public calls = 0;
  /** When set, every call fails with this status and AWS error type. */
  public failWith?: { status: number; type: string };
  private server?: http.Server;

  public get endpoint(): string {
    const address = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  public async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.calls++;
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(body));
        };
        if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
          reply(400, { __type: 'InvalidRequestException', message: 'only GetSecretValue is implemented' });
          return;
        }
        if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
          reply(403, { __type: 'AccessDeniedException', message: 'request is not signed' });
          return;
        }
        if (this.failWith) {
          reply(this.failWith.status, { __type: this.failWith.type, message: 'injected failure' });
          return;
        }
        const { SecretId, VersionStage } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string; VersionStage?: string };
        const stage = VersionStage ?? 'AWSCURRENT';
        this.stagesRequested.push(stage);
        const secret = stage === 'AWSCURRENT' ? this.secrets.get(SecretId) : stage === 'AWSPREVIOUS' ? this.previous.get(SecretId) : undefined;
        if (secret === undefined) {
          const message = this.secrets.has(SecretId)
            ? `Secrets Manager can't find the specified secret value for staging label: ${stage}`
            : "Secrets Manager can't find the specified secret.";
          reply(400, { __type: 'ResourceNotFoundException', message });
          return;
        }
        reply(200, { ARN: SecretId, Name: SecretId.split(':').pop(), SecretString: secret, VersionId: stage === 'AWSCURRENT' ? 'v2' : 'v1', VersionStages: [stage] });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** What put-secret-value does: `value` becomes AWSCURRENT and the current value AWSPREVIOUS. */
  public rotate(secretId: string, value: string): void {
    const current = this.secrets.get(secretId);
    if (current !== undefined) this.previous.set(secretId, current);
    this.secrets.set(secretId, value);
  }

  public async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
