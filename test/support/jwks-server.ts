/**
 * A loopback OIDC key server: an RSA key pair made with node:crypto, its public JWK served at /jwks.json, and a signer
 * for real RS256 tokens.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';

export class JwksServer {
  public readonly kid = 'test-key-1';
  private readonly privateKey: KeyObject;
  private readonly publicJwk: Record<string, unknown>;
  private server?: http.Server;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' };
  }

  public get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  public get jwksUri(): string {
    return `${this.url}/jwks.json`;
  }

  public async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      if (req.url === '/jwks.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [this.publicJwk] }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  public async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** A signed RS256 token; `key` signs with another key (bad signature), `kid` overrides the header kid. */
  public sign(claims: Record<string, unknown>, options: { key?: KeyObject; kid?: string } = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', kid: options.kid ?? this.kid };
    const payload = { iat: now, exp: now + 600, ...claims };
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${encode(header)}.${encode(payload)}`;
    const signature = createSign('RSA-SHA256').update(input).sign(options.key ?? this.privateKey).toString('base64url');
    return `${input}.${signature}`;
  }
}
