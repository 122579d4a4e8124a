/**
 * The bench's output: one row per figure, beside its anchor from the same
 * run and the ratio. Each part writes `bench/results/<part>.json` (ignored
 * by git) with the machine and the commit; `report.ts` prints them as one table.
 */
import { execSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'

export type Row = {
  figure: string
  meshcall: number
  unit: string
  anchor: string
  anchorValue: number | null
  ratio: string
}

export type PartResult = {
  part: string
  title: string
  commit: string
  cores: number
  cpu: string
  node: string
  at: string
  rows: Row[]
  raw: unknown
}

export const RESULTS_DIR = join(new URL('../..', import.meta.url).pathname, 'bench', 'results')

export const median = (xs: number[]) => {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]
}

/** The p-th percentile (nearest rank). */
export const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

export const ratio = (value: number, anchor: number) => (Number.isFinite(value) && anchor > 0 ? `${(value / anchor).toFixed(2)}×` : 'n/a')

function commit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

/** Prints the part's table and writes its JSON. */
export function writeResults(part: string, title: string, rows: Row[], raw: unknown): PartResult {
  const result: PartResult = {
    part,
    title,
    commit: commit(),
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    at: new Date().toISOString(),
    rows,
    raw,
  }
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, `${part}.json`), `${JSON.stringify(result, null, 2)}\n`)
  console.log(`\n${title}`)
  console.table(rows.map(round))
  return result
}

/** A row with its numbers rounded for reading. */
export function round(row: Row): Row {
  const r = (x: number | null) => (x === null || !Number.isFinite(x) ? x : x >= 100 ? Math.round(x) : Number(x.toPrecision(3)))
  return { ...row, meshcall: r(row.meshcall) as number, anchorValue: r(row.anchorValue) }
}
