import { type Charge, driveCharges, sharePointCharges, sharePointUnitsPerMinute } from './quotas.js';

/** Quota settings from the environment (SHAREPOINT_*, GOOGLE_DRIVE_QUERIES_*); see README, Configuration. */
export interface QuotaSettings {
  sharePoint: {
    /** Licence count of a tenant not listed below (its budget tier). */
    defaultLicenses: number;
    /** Licence count per Microsoft tenant id. */
    tenantLicenses: Readonly<Record<string, number>>;
    /** Resource units a minute per tenant id, over its tier (an agreed or measured budget). */
    tenantUnitsPerMinute: Readonly<Record<string, number>>;
  };
  drive: { queriesPerMinute: number; queriesPerMinutePerUser: number };
  /** Length of a quota "minute" (tests shorten it; 60,000 everywhere else). */
  windowMs?: number;
}

export const defaultQuotaSettings: QuotaSettings = {
  sharePoint: { defaultLicenses: 0, tenantLicenses: {}, tenantUnitsPerMinute: {} },
  drive: { queriesPerMinute: 12_000, queriesPerMinutePerUser: 12_000 },
};

/** Each source's charges for one tenant, project or user, from the worker's quota settings. */
export class SourceQuotas {
  constructor(private readonly settings: QuotaSettings = defaultQuotaSettings) {}

  sharePointUnitsPerMinute(tenantId: string): number {
    const sp = this.settings.sharePoint;
    return sp.tenantUnitsPerMinute[tenantId] ?? sharePointUnitsPerMinute(sp.tenantLicenses[tenantId] ?? sp.defaultLicenses);
  }

  /** Graph drive calls of one tenant (`tenantKey` as the HTTP layer's, e.g. `graph:{tenant id}`). */
  sharePoint(tenantKey: string, tenantId: string): (method: string, url: URL) => Charge[] {
    return sharePointCharges(tenantKey, this.sharePointUnitsPerMinute(tenantId), this.settings.windowMs);
  }

  /** Drive calls of one user under one Cloud project. */
  drive(project: string, user: string): (method: string, url: URL) => Charge[] {
    const { queriesPerMinute, queriesPerMinutePerUser } = this.settings.drive;
    return driveCharges(project, user, { perProject: queriesPerMinute, perUser: queriesPerMinutePerUser }, this.settings.windowMs);
  }
}
