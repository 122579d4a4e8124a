import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { verifyToken } from '../../party/auth'

const run = promisify(execFile)
const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname
const SCRIPT = new URL('../../scripts/token.ts', import.meta.url).pathname

describe('npm run token', () => {
  it('mints a token the room server accepts for that room and name', async () => {
    const secret = 'cli-secret-0123456789'
    const { stdout } = await run(TSX, [SCRIPT, '--room', 'standup', '--name', 'Ada', '--ttl', '120'], {
      env: { ...process.env, MESHCALL_AUTH_SECRET: secret },
    })
    const token = stdout.trim()
    expect(await verifyToken(secret, token, 'standup')).toEqual({ ok: true, claims: { room: 'standup', name: 'Ada' } })
    expect(await verifyToken(secret, token, 'other')).toMatchObject({ ok: false })
  })

  it('exits 2 with a usage line on a bad room name', async () => {
    const failure = await run(TSX, [SCRIPT, '--room', 'no spaces', '--name', 'Ada', '--secret', 'x'.repeat(16)]).catch((e) => e)
    expect(failure.code).toBe(2)
    expect(failure.stderr).toMatch(/--room must be/)
  })
})
