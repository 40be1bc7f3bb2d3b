import { RateWindow } from '../core/rate-limit.ts';
import type { SimContext } from '../core/server.ts';
import { ORG_ID, USER_ID } from './schema.ts';

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** What every API area of one running simulator shares: the org and its rolling 24-hour usage. */
export interface OrgState {
  ctx: SimContext;
  /** The org's id, the key of its usage windows. */
  org: string;
  /** Authenticated REST and Bulk requests (DailyApiRequests). */
  daily: RateWindow;
  /** Bulk API 2.0 query jobs created (DailyBulkV2QueryJobs). */
  bulkJobsToday: RateWindow;
  startedAt: number;
}

/** The daily request window of each running simulator, for the rate-limit answer outside the routes. */
const usage = new WeakMap<SimContext, RateWindow>();

export function createOrgState(ctx: SimContext): OrgState {
  const org = ctx.provider.account.accountId;
  const daily = new RateWindow(ctx.clock, DAY);
  const bulkJobsToday = new RateWindow(ctx.clock, DAY);
  usage.set(ctx, daily);
  const startedAt = ctx.clock.now();
  return { ctx, org, daily, bulkJobsToday, startedAt };
}

export function limitInfo(ctx: SimContext): string {
  const max = ctx.limits.daily_api_requests!;
  const state = usage.get(ctx)?.peek(ctx.provider.account.accountId, max);
  return `api-usage=${state ? max - state.remaining : 0}/${max}`;
}

export const idUrl = (ctx: SimContext) => `${ctx.url}/id/${ORG_ID}/${USER_ID}`;
