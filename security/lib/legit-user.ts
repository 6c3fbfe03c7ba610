/**
 * LegitUser plays an ordinary viewer in a loop while an attack runs: log in, fetch the channel,
 * connect to chat and publish a message, load a static file. It records each round's latency and
 * every failure, so the report says how real users fared during the attack.
 */
import { chatToken, type Account } from './context.js';
import { ChatClient } from './chat-client.js';
import { http, percentile, sleep } from './net.js';

const STEP_TIMEOUT_MS = 10_000;
const PAUSE_BETWEEN_ROUNDS_MS = 100;

export interface LegitSummary {
  rounds: number;
  failedRounds: number;
  /** The first few failures, as "step: reason". */
  failures: string[];
  p50Ms: number;
  p95Ms: number;
}

export class LegitUser {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private latencies: number[] = [];
  private failures: string[] = [];
  private rounds = 0;
  private failedRounds = 0;

  constructor(private readonly base: string, private readonly account: Account, private readonly headers: Record<string, string>, private readonly staticPath: string) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.round();
        await sleep(PAUSE_BETWEEN_ROUNDS_MS);
      }
    })();
  }

  /** stop ends the loop after the current round, runs at least one round, and summarises. */
  async stop(): Promise<LegitSummary> {
    this.running = false;
    await this.loop;
    if (this.rounds === 0) await this.round();
    const ok = this.latencies;
    return { rounds: this.rounds, failedRounds: this.failedRounds, failures: this.failures.slice(0, 5), p50Ms: round1(percentile(ok, 50)), p95Ms: round1(percentile(ok, 95)) };
  }

  /** round runs the four steps once; one failed step fails the round. */
  async round(): Promise<void> {
    const t0 = performance.now();
    const failure = await this.steps().catch((e: unknown) => `error: ${e instanceof Error ? e.message : String(e)}`);
    this.rounds++;
    if (failure) {
      this.failedRounds++;
      if (this.failures.length < 20) this.failures.push(failure);
    } else this.latencies.push(performance.now() - t0);
  }

  private async steps(): Promise<string | undefined> {
    const json = { 'content-type': 'application/json', ...this.headers };
    const login = await http(`${this.base}/api/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: this.account.username, password: this.account.password }), timeoutMs: STEP_TIMEOUT_MS });
    if (login.status !== 200) return `login: ${login.status} ${login.text.slice(0, 120)}`;
    const token = (JSON.parse(login.text) as { token: string }).token;
    const ch = await http(`${this.base}/api/v1/channels/${this.account.channel}`, { headers: this.headers, timeoutMs: STEP_TIMEOUT_MS });
    if (ch.status !== 200) return `channel: ${ch.status}`;
    const chatUrl = `${this.base.replace(/^http/, 'ws')}/connection/websocket`;
    const client = await ChatClient.open(chatUrl, await chatToken(this.base, { ...this.account, token }, this.headers), this.headers, STEP_TIMEOUT_MS).catch((e: Error) => e);
    if (client instanceof Error) return `chat connect: ${client.message}`;
    try {
      const r = await client.publish(`chat:${this.account.channel}`, { text: 'hello from a legitimate user' }, STEP_TIMEOUT_MS);
      if (r.error) return `chat publish: ${r.error.code} ${r.error.message}`;
    } finally {
      client.close();
    }
    const file = await http(`${this.base}${this.staticPath}`, { headers: this.headers, timeoutMs: STEP_TIMEOUT_MS });
    if (file.status !== 200) return `static file ${this.staticPath}: ${file.status}`;
    return undefined;
  }
}

function round1(n: number): number {
  return Number.isNaN(n) ? n : Math.round(n * 10) / 10;
}
