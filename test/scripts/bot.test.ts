import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDump } from '../../machines/inspect/recorder'
import { parsePath, parseProgress } from '../netlab/bots'
import { startRoomServer, type RoomServer } from '../support/roomServer'

const run = promisify(execFile)
const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname
const SCRIPT = new URL('../../scripts/bot.ts', import.meta.url).pathname

let server: RoomServer
beforeAll(async () => {
  server = await startRoomServer({ MESHCALL_MAX_PEERS: '2' })
})
afterAll(async () => {
  await server?.stop()
})

type Summary = {
  ok: boolean
  fullMeshMs: number | null
  iceRestarts: number
  failures: ({ reason: string } | null)[]
  bots: {
    name: string
    id: string | null
    connectedWith: string[]
    peers: {
      id: string
      framesReceived: number
      bytesReceived: number
      candidatePair: { local: string; remote: string; protocol: string; relayProtocol: string | null } | null
      recoveries: { cause: string; ms: number }[]
      safetyCode: string | null
    }[]
  }[]
}

describe('npm run bot', () => {
  it('fills a room, reports frames and bytes from every peer as JSON, and exits 0', async () => {
    const { stdout } = await run(TSX, [SCRIPT, '--host', server.host, '--room', 'bots-ok', '--peers', '2', '--seconds', '3', '--json'])
    const summary: Summary = JSON.parse(stdout)
    expect(summary.ok).toBe(true)
    expect(summary.fullMeshMs).toBeGreaterThan(0)
    const [a, b] = summary.bots
    expect(a.connectedWith).toEqual([b.id])
    expect(b.connectedWith).toEqual([a.id])
    for (const bot of summary.bots) {
      expect(bot.peers[0].framesReceived).toBeGreaterThan(5)
      expect(bot.peers[0].bytesReceived).toBeGreaterThan(1_000)
      // Two bots on one loopback: host candidates on both sides, over UDP.
      expect(bot.peers[0].candidatePair).toEqual({
        local: 'host',
        remote: expect.stringMatching(/^(host|prflx)$/),
        protocol: 'udp',
        relayProtocol: null,
      })
      expect(bot.peers[0].recoveries).toEqual([])
    }
    // The pair's safety code, the same in both bots' summaries.
    expect(a.peers[0].safetyCode).toMatch(/^\d{5}( \d{5}){3}$/)
    expect(b.peers[0].safetyCode).toBe(a.peers[0].safetyCode)
  }, 60_000)

  it('exits 1 when a bot cannot reach every other participant (the room is full)', async () => {
    const failure = await run(TSX, [
      SCRIPT,
      '--host',
      server.host,
      '--room',
      'bots-full',
      '--peers',
      '3',
      '--seconds',
      '3',
      '--json',
    ]).catch((e: { code: number; stdout: string }) => e)
    expect('code' in failure && failure.code).toBe(1)
    const summary: Summary = JSON.parse(failure.stdout)
    expect(summary.ok).toBe(false)
    expect(summary.failures.map((f) => f?.reason)).toEqual(['room-full'])
  }, 60_000)

  it('writes each bot session as an inspector dump with --dump', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshcall-dump-'))
    try {
      const file = join(dir, 'session.json')
      await run(TSX, [SCRIPT, '--host', server.host, '--room', 'bots-dump', '--peers', '2', '--seconds', '3', '--json', '--dump', file])
      for (const name of ['session-1.json', 'session-2.json']) {
        const dump = parseDump(JSON.parse(readFileSync(join(dir, name), 'utf8')))
        expect(dump.actors.map((a) => a.kind).sort()).toEqual(['media', 'peer', 'room'])
        expect(dump.entries.some((e) => e.kind === 'event' && e.signal?.kind === 'description')).toBe(true)
        const [peerId] = Object.keys(dump.stats)
        expect(dump.stats[peerId].some((s) => (s.inBps ?? 0) > 0)).toBe(true)
        expect(dump.environment.userAgent).toMatch(/^node /)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("prints each bot's states and, with --dump, each connection's candidate pair, in the lines the network lab reads", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshcall-progress-'))
    try {
      const args = ['--host', server.host, '--room', 'bots-progress', '--peers', '2', '--seconds', '3', '--dump', join(dir, 's.json')]
      const { stdout } = await run(TSX, [SCRIPT, ...args])
      const lines = stdout.split('\n')
      const states = lines.map((line) => parseProgress(line, 0)).filter((p) => p !== null)
      const ids = [...new Set(states.map((p) => p.selfId).filter((id) => id !== null))]
      expect(ids).toHaveLength(2)
      // Each bot was connected to the other, and named the pair it used.
      for (const id of ids) expect(states.some((p) => p.selfId === id && Object.values(p.peers).includes('connected'))).toBe(true)
      const paths = lines.map(parsePath).filter((p) => p !== null)
      expect(new Set(paths.map((p) => p.peerId))).toEqual(new Set(ids))
      for (const { path } of paths) expect(path).toMatch(/^\S+:\d+ \S+:\d+$/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('refuses bad arguments with a usage line and exit code 2', async () => {
    const failure = await run(TSX, [SCRIPT, '--peers', 'many']).catch((e: { code: number; stderr: string }) => e)
    expect('code' in failure && failure.code).toBe(2)
    expect('stderr' in failure && failure.stderr).toMatch(/--peers must be/)
  })
})
