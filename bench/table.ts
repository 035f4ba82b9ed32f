// Prints the one benchmark table from the JSON rows the benchmarks appended to a file
// (BENCH_ROWS, see bench/lib.ts report()).   node dist-bench/bench/table.js <rows.jsonl>
import { readFileSync } from 'node:fs';
import { HEADER, machine, rowLine, type Row } from './lib.js';

const rows = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Row);
console.log(`annotary benchmarks — ${machine()}`);
console.log('');
console.log(HEADER);
for (const r of rows) console.log(rowLine(r));
const missed = rows.filter((r) => r.met === false);
console.log('');
const missedList = missed.map((r) => `${r.benchmark} — ${r.measure}`).join('; ');
console.log(`${rows.filter((r) => r.met === true).length} targets met, ${missed.length} missed${missed.length ? `: ${missedList}` : ''}`);
