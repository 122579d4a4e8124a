/**
 * Recovery times on real networks, from the network lab, each beside an
 * anchor measured in the same lab run: the same pair's first connection
 * (from meeting its peer to connected), so that a slow machine slows both.
 *
 * - restore: after participant 1's link was cut for 10 s (link-cut), from
 *   the restore until each far side shows it connected again, and until
 *   the first new video frames (dated to within the bots' 250 ms stats
 *   period);
 * - switch: after participant 1's address changed (network-switch), from
 *   the change until each side is connected again, and until video; and
 *   the same without the bots' network watch (network-switch-blind).
 *
 * Needs root and the lab's tools (as `npm run netlab`); says so and exits 2
 * without them. Run: `npm run bench` (or `npx tsx test/bench/netlab.ts [--runs N]`).
 */
import { parseArgs } from 'node:util'
import { scenarioNamed } from '../netlab/catalog'
import { preflight } from '../netlab/preflight'
import { runScenario } from '../netlab/scenarios'
import { median, ratio, writeResults, type Row } from './results'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } })
const RUNS = Number(values.runs)

const { noLab, missingTools } = preflight()
const missing = noLab ?? missingTools
if (missing) {
  process.stderr.write(`bench netlab: cannot build the lab: ${missing}\n`)
  process.exit(2)
}

type Figure = { figure: string; keys: RegExp }
const SCENARIOS: { name: string; figures: Figure[] }[] = [
  {
    name: 'link-cut',
    figures: [
      { figure: 'link restored → far side connected', keys: /^bot[23]→1RestoreToConnectedMs$/ },
      { figure: 'link restored → far side sees video', keys: /^bot[23]→1RestoreToVideoMs$/ },
    ],
  },
  {
    name: 'network-switch',
    figures: [
      { figure: 'address changed → connected again', keys: /SwitchToConnectedMs$/ },
      { figure: 'address changed → video again', keys: /SwitchToVideoMs$/ },
    ],
  },
  {
    name: 'network-switch-blind',
    figures: [{ figure: 'address changed, no network watch → video again', keys: /SwitchToVideoMs$/ }],
  },
]

const rows: Row[] = []
const raw: Record<string, Record<string, number | null>[]> = {}
for (const { name, figures } of SCENARIOS) {
  const anchors: number[] = []
  const samples = new Map<string, number[]>(figures.map((f) => [f.figure, []]))
  raw[name] = []
  for (let run = 1; run <= RUNS; run++) {
    process.stderr.write(`bench netlab: ${name}, run ${run} of ${RUNS}\n`)
    const result = await runScenario(scenarioNamed(name))
    raw[name].push(result.timings)
    if (result.problems.length > 0) process.stderr.write(`bench netlab: ${name} had problems:\n${result.problems[0]}\n`)
    for (const [key, ms] of Object.entries(result.timings)) {
      if (ms === null) continue
      if (/^bot\dConnectMs$/.test(key)) anchors.push(ms)
      for (const f of figures) if (f.keys.test(key)) samples.get(f.figure)!.push(ms)
    }
  }
  const anchorMs = median(anchors)
  for (const f of figures) {
    const ms = median(samples.get(f.figure)!)
    rows.push({
      figure: `${name}: ${f.figure}`,
      meshcall: ms,
      unit: 'ms',
      anchor: 'first connection',
      anchorValue: anchorMs,
      ratio: ratio(ms, anchorMs),
    })
  }
}
writeResults('netlab', `recovery on real networks (the network lab), median of ${RUNS} runs, every side`, rows, raw)
process.exit(0)
