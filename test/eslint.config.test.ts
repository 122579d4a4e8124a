import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('..', import.meta.url).pathname
const eslint = new ESLint({ cwd: ROOT })

/** The rules that `code` breaks, linted as if it were the file at `path`. */
async function broken(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` })
  return result.messages.map((m) => m.ruleId ?? m.message)
}

describe('the layer rules (npm run lint)', () => {
  it('refuse React in machines/', async () => {
    expect(await broken('machines/probe.ts', "import { useState } from 'react'\nexport const x = useState\n")).toContain(
      'no-restricted-imports',
    )
  })

  it('refuse the app in machines/', async () => {
    expect(await broken('machines/probe.ts', "import { App } from '../src/app/App'\nexport const x = App\n")).toContain(
      'import-x/no-restricted-paths',
    )
  })

  it('refuse the machines and WebRTC in party/ and protocol/', async () => {
    expect(
      await broken('party/probe.ts', "import { peerMachine } from '../machines/peerMachine'\nexport const x = peerMachine\n"),
    ).toContain('import-x/no-restricted-paths')
    expect(await broken('protocol/probe.ts', "import wrtc from '@roamhq/wrtc'\nexport const x = wrtc\n")).toContain('no-restricted-imports')
  })

  it("refuse one feature importing another's internals", async () => {
    expect(
      await broken('src/features/chat/probe.ts', "import { Controls } from '../call/Controls'\nexport const x = Controls\n"),
    ).toContain('import-x/no-restricted-paths')
  })

  it('refuse an import cycle', async () => {
    // Tiles imports initials; initials importing Tiles back closes a cycle.
    const code = "import { LocalTile } from '../features/call/Tiles'\nexport const x = LocalTile\n"
    expect(await broken('src/shared/initials.ts', code)).toContain('import-x/no-cycle')
  })

  it('pass the tree as it is', async () => {
    const results = await eslint.lintFiles(['machines', 'party', 'protocol', 'lib', 'src'])
    expect(results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.ruleId}`))).toEqual([])
  })
})
