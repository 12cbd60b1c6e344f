import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/schema.js';
import { SourceMemory } from '../providers/source-memory.js';
import { BudgetTable } from './budget-table.js';
import { SharedRequestBudget } from './shared-budget.js';
import { SourceQuotas } from './source-quotas.js';

/** The worker's SourceMemory, drawing from the budgets every replica shares unless SOURCE_BUDGET=per-worker. */
export function workerSourceMemory(config: Config, db: Kysely<Database>): SourceMemory {
  const quotas = new SourceQuotas(config.budgets);
  if (config.budgets.mode === 'per-worker') return new SourceMemory({ quotas });
  return new SourceMemory({ quotas, budget: new SharedRequestBudget({ table: new BudgetTable(db) }) });
}
