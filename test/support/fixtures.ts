/**
 * Saved test cases (a shrunk schedule, a shrunk fuzz batch): JSON files in
 * a directory, named by a hash of what they replay, checked against a
 * schema when read back.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'

/** The first 12 hex digits of the SHA-256 of `value`'s JSON: a fixture's file name. */
export function fixtureHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12)
}

/** Writes `fixture` as `DIR/<name>.json`; returns the path. */
export function saveJsonFixture(dir: string, name: string, fixture: unknown): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(fixture, null, 2) + '\n')
  return file
}

/** Every fixture in `dir` (none if it does not exist), by file name; a file that does not fit `schema` throws, naming it. */
export function loadJsonFixtures<S extends v.GenericSchema>(
  dir: string,
  schema: S,
  kind: string,
): { file: string; fixture: v.InferOutput<S> }[] {
  let files: string[]
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  } catch {
    return []
  }
  return files.map((file) => {
    const parsed = v.safeParse(schema, JSON.parse(readFileSync(join(dir, file), 'utf8')))
    if (!parsed.success) throw new Error(`invalid ${kind} fixture ${file}: ${v.summarize(parsed.issues)}`)
    return { file, fixture: parsed.output }
  })
}
