/**
 * Prints every part of the last `npm run bench` as one table, and writes it
 * as `bench/results/bench-<commit>-<time>.json` with the machine and the commit.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RESULTS_DIR, round, type PartResult } from './results'

const parts = ['mesh', 'call', 'netlab']
  .map((part) => join(RESULTS_DIR, `${part}.json`))
  .filter((file) => existsSync(file))
  .map((file) => JSON.parse(readFileSync(file, 'utf8')) as PartResult)
if (parts.length === 0) {
  console.error('bench report: no results under bench/results/; run npm run bench')
  process.exit(2)
}
const [first] = parts
console.log(`\nmeshcall bench, commit ${first.commit}, ${first.cores} cores (${first.cpu}), node ${first.node}`)
console.table(parts.flatMap((p) => p.rows.map(round)))
const file = join(RESULTS_DIR, `bench-${first.commit}-${first.at.replace(/[:.]/g, '-')}.json`)
writeFileSync(file, `${JSON.stringify({ commit: first.commit, cores: first.cores, cpu: first.cpu, node: first.node, parts }, null, 2)}\n`)
console.log(`written to ${file}`)
