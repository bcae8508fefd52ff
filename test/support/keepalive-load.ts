import { Agent } from 'node:http';
import { httpRequest } from './http.js';

export interface LoadReply {
  /** performance.now() when the request was sent. */
  readonly sentAt: number;
  readonly status: number;
  readonly body: string;
}

/**
 * Requests one path over and over from a few keep-alive connections, as a browser or a client
 * library does, until stopped; every socket error, timeout and status other than 200 is a
 * failure. For tests that change routes under load.
 */
export class KeepAliveLoad {
  readonly replies: LoadReply[] = [];
  readonly failures: string[] = [];
  private running = true;
  private readonly agent: Agent;
  private readonly workers: Promise<void>[];

  constructor(port: number, path: string, options: { headers?: Record<string, string>; connections?: number } = {}) {
    const connections = options.connections ?? 8;
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
    const worker = async (): Promise<void> => {
      while (this.running) {
        const sentAt = performance.now();
        try {
          const reply = await httpRequest(port, path, { agent: this.agent, ...(options.headers ? { headers: options.headers } : {}) });
          this.replies.push({ sentAt, ...reply });
          if (reply.status !== 200) this.failures.push(`${reply.status} ${reply.body.trim()}`);
        } catch (error) {
          this.failures.push(String(error));
        }
      }
    };
    this.workers = Array.from({ length: connections }, () => worker());
  }

  /** The replies to requests sent at or after `time` (performance.now()). */
  sentSince(time: number): LoadReply[] {
    return this.replies.filter((r) => r.sentAt >= time);
  }

  /** Waits, at most `timeoutMs`, until `count` more replies have come. */
  async more(count: number, timeoutMs = 15_000): Promise<void> {
    const target = this.replies.length + count;
    const deadline = performance.now() + timeoutMs;
    while (this.replies.length < target) {
      if (performance.now() > deadline) throw new Error(`the load got ${this.replies.length} replies, not ${target}, within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.agent.destroy();
  }
}
