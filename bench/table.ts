/** Prints the Markdown tables of saved results: `npx tsx bench/table.ts bench/results/<label>-abcd.json…` */
import { readFileSync } from 'node:fs';
import { markdownTable, type BenchResults } from './report.js';

for (const file of process.argv.slice(2)) {
  process.stdout.write(`${markdownTable(JSON.parse(readFileSync(file, 'utf8')) as BenchResults)}\n\n`);
}
