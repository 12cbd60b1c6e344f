import type { RequestBudget } from '../budget/quotas.js';
import { SourceQuotas } from '../budget/source-quotas.js';
import { Agent } from 'undici';
import { RequestRateLimiter } from '../http/rate-limit.js';
import { TenantPauses } from '../http/tenant-pauses.js';
import { ServiceAccountKeys } from './google-drive/service-account.js';
import { SignedInTenants } from './microsoft-graph/signed-in-tenants.js';
import { TokenCache } from './token-cache.js';

/**
 * What the sources of one worker remember between activities: who is
 * throttled, the request budgets spent, the access tokens they hold, the
 * service-account keys they read, the connections they keep open.
 * The worker creates one and passes it down with its other dependencies
 * (ActivityDeps); a test creates its own. No source keeps state anywhere else.
 */
export class SourceMemory {
  /** Per-tenant throttling pauses, shared by every request to the same tenant. */
  readonly pauses = new TenantPauses();
  /** Per-second request budgets a source announces (Teams), when no shared budget is set. */
  readonly rates = new RequestRateLimiter();
  /** Access tokens per identity, for every source. */
  readonly tokens = new TokenCache();
  /** The Microsoft tenant each delegated sign-in's token named (its `tid`), for the tenant's shared pause. */
  readonly signedInTenants = new SignedInTenants();
  /** GOOGLE_SERVICE_ACCOUNT_JSON, read and checked once. */
  readonly serviceAccountKeys = new ServiceAccountKeys();
  /** The request budgets every replica shares (SOURCE_BUDGET=shared); absent: each worker keeps its own. */
  readonly budget: RequestBudget | undefined;
  /** What each source call costs, per tenant, project and user. */
  readonly quotas: SourceQuotas;
  /**
   * Kept-alive connections to the sources, one pool per origin, that every SourceHttp sends through
   * (undici's defaults: 10 s to connect, 300 s for a body that stops moving between chunks).
   */
  readonly connections = new Agent();

  constructor(options: { budget?: RequestBudget | undefined; quotas?: SourceQuotas } = {}) {
    this.budget = options.budget;
    this.quotas = options.quotas ?? new SourceQuotas();
  }

  /** Closes the connections once nothing sends any more (the worker has stopped). */
  close(): Promise<void> {
    return this.connections.close();
  }
}
