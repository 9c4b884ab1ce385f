/**
 * A Lua script run atomically by the server: EVALSHA first (the script body is sent once per server), EVAL when the
 * server does not know it yet (first use, or after a restart or failover emptied its script cache).
 */
import { createHash } from 'crypto';
import { ErrorReply } from 'redis';

/** The subset of the client a script needs. */
export interface ScriptRunner {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export class LuaScript {
  public readonly sha: string;

  constructor(public readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: ScriptRunner, keys: string[], args: Array<string | number>): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await client.evalSha(this.sha, options);
    } catch (error) {
      if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')) return client.eval(this.source, options);
      throw error;
    }
  }
}
