/**
 * Runs one network lab scenario by name, printing what it builds, and tears
 * the lab down at the end (and on Ctrl-C). With no name, lists them. Needs root.
 *
 *   npm run netlab                  # list the scenarios
 *   npm run netlab -- nat-direct    # run one
 *   npm run netlab -- link-cut --dumps out/   # and keep each bot's session
 *
 * With `--dumps DIR`, each bot's session dump is written to
 * `DIR/<scenario>-bot<N>.json`, which the inspector's replay opens.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { preflight } from '../test/netlab/preflight'
import { ALL_SCENARIOS, scenarioNamed } from '../test/netlab/catalog'
import { runScenario } from '../test/netlab/scenarios'

const out = (line: string) => process.stdout.write(`${line}\n`)
let args
try {
  args = parseArgs({ allowPositionals: true, options: { dumps: { type: 'string' } } })
} catch (error) {
  process.stderr.write(`netlab: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(2)
}
const [name, ...rest] = args.positionals
const dumps = args.values.dumps

if (!name || rest.length > 0) {
  out('usage: npm run netlab -- SCENARIO [--dumps DIR]\n\nscenarios:')
  for (const s of ALL_SCENARIOS) {
    out(`  ${s.name.padEnd(24)} ${s.description}`)
    if (s.reproduces) out(`  ${''.padEnd(24)} (reproduces an open bug, so not in npm test: ${s.reproduces})`)
  }
  process.exit(name ? 2 : 0)
}

let scenario
try {
  scenario = scenarioNamed(name)
} catch (error) {
  process.stderr.write(`netlab: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(2)
}
const { noLab, missingTools } = preflight()
const missing = noLab ?? missingTools
if (missing) {
  process.stderr.write(`netlab: ${missing}\n`)
  process.exit(2)
}

const started = Date.now()
const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`
out(`${stamp()} ${scenario.name}: ${scenario.description}`)
const result = await runScenario(scenario, { log: (line) => out(`${stamp()} ${line}`) })
out(`${stamp()} timings (ms): ${JSON.stringify(result.timings)}`)
if (dumps) {
  mkdirSync(dumps, { recursive: true })
  for (const run of result.runs) {
    if (!run.dump) continue
    const file = join(dumps, `${scenario.name}-bot${run.participant.index}.json`)
    writeFileSync(file, JSON.stringify(run.dump))
    out(`${stamp()} bot ${run.participant.index}'s session: ${file}`)
  }
  writeFileSync(join(dumps, `${scenario.name}-marks.json`), JSON.stringify(result.marks))
}
if (result.problems.length === 0) {
  out(`${stamp()} ${scenario.name}: OK`)
} else {
  for (const problem of result.problems) out(`problem: ${problem}`)
  out(`${stamp()} ${scenario.name}: NOT OK`)
}
process.exit(result.problems.length === 0 ? 0 : 1)
