/**
 * Spend kept in this process (the dev server, or one Lambda instance without the gateway table): budgets of Secrets
 * Manager keys hold per instance only. Charges are idempotent per request id like the table's.
 */
import { utcDay, utcMonth } from './schema';
import type { Charge, SpendStore, Spent } from './types';

export class MemorySpendStore implements SpendStore {
  private readonly totals = new Map<string, number>();
  private readonly seen = new Set<string>();

  public async spent(key: string, nowMs: number): Promise<Spent> {
    return { day: this.totals.get(`${key}|${utcDay(nowMs)}`) ?? 0, month: this.totals.get(`${key}|${utcMonth(nowMs)}`) ?? 0 };
  }

  public async charge(charge: Charge): Promise<void> {
    if (this.seen.has(charge.requestId)) return;
    this.seen.add(charge.requestId);
    if (this.seen.size > 100_000) this.seen.clear();
    for (const period of [utcDay(charge.nowMs), utcMonth(charge.nowMs)]) {
      const k = `${charge.key}|${period}`;
      this.totals.set(k, (this.totals.get(k) ?? 0) + charge.usd);
    }
  }
}
