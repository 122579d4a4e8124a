import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('..', import.meta.url).pathname

function testFilesOnDisk(dir = join(ROOT, 'test')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'artifacts' || entry.name === 'fixtures' ? [] : testFilesOnDisk(path)
    return /\.test\.tsx?$/.test(entry.name) ? [relative(ROOT, path)] : []
  })
}

describe('the test layers', () => {
  it('put every test file on disk in exactly one layer, so none is silently left out of npm test', () => {
    // Vitest's own resolution of the projects, not a copy of their globs.
    const listed = JSON.parse(
      execFileSync(join(ROOT, 'node_modules/.bin/vitest'), ['list', '--filesOnly', '--json'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      }),
    ) as { file: string; projectName: string }[]
    const layersOf = new Map<string, string[]>()
    for (const { file, projectName } of listed) {
      const path = relative(ROOT, file)
      layersOf.set(path, [...(layersOf.get(path) ?? []), projectName])
    }
    const onDisk = testFilesOnDisk().sort()
    expect(onDisk.length).toBeGreaterThan(20)
    expect(onDisk.filter((file) => (layersOf.get(file) ?? []).length !== 1)).toEqual([])
    expect([...layersOf.keys()].sort()).toEqual(onDisk)
  })
})
