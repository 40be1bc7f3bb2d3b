import type { OrgState } from './org.ts';
import type { RestRoute } from './rest.ts';

/** GET limits: the org's daily API requests and Bulk query jobs as counted, and a few fixed others. */
export function registerLimitsRoutes(route: RestRoute, { ctx, org, daily, bulkJobsToday }: OrgState) {
  route('GET', '/limits', () => {
    const api = daily.peek(org, ctx.limits.daily_api_requests!);
    const bulk = bulkJobsToday.peek(org, ctx.limits.daily_bulk_v2_query_jobs!);
    return {
      ConcurrentAsyncGetReportInstances: { Max: 200, Remaining: 200 },
      ConcurrentSyncReportRuns: { Max: 20, Remaining: 20 },
      DailyApiRequests: { Max: api.limit, Remaining: api.remaining },
      DailyAsyncApexExecutions: { Max: 250_000, Remaining: 250_000 },
      DailyBulkApiBatches: { Max: 15_000, Remaining: 15_000 },
      DailyBulkV2QueryFileStorageMB: { Max: 976_562, Remaining: 976_562 },
      DailyBulkV2QueryJobs: { Max: bulk.limit, Remaining: bulk.remaining },
      DataStorageMB: { Max: 5, Remaining: 5 },
      FileStorageMB: { Max: 20, Remaining: 20 },
      HourlyTimeBasedWorkflow: { Max: 50, Remaining: 50 },
      SingleEmail: { Max: 15, Remaining: 15 },
    };
  });
}
