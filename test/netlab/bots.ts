/**
 * Participants of the lab: one `scripts/bot.ts` process per home namespace,
 * with its `--json` summary and its `--dump` session read back when it exits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { BotReport, PeerReport } from '../../machines/node/bots'
import { parseDump, type SessionDump } from '../../machines/inspect/recorder'
import type { Lab, Participant } from './lab'
import { waitFor } from './probes'

const ROOT = new URL('../..', import.meta.url).pathname

/** How often each lab bot samples its stats, ms. */
export const STATS_MS = 250

/** The bot CLI's `--json` summary (see scripts/bot.ts). */
export type BotSummary = {
  ok: boolean
  room: string
  failures: ({ reason: string; message?: string } | null)[]
  bots: BotReport[]
}

/** One bot process, after it exited. */
export type BotRun = {
  participant: Participant
  exitCode: number | null
  /** Null when it printed no JSON (it crashed, or was killed). */
  summary: BotSummary | null
  /** Its own timeline, from `--dump`; null when it wrote none. */
  dump: SessionDump | null
  /** Everything it printed, for failure messages. */
  output: string
}

export type BotOptions = {
  /** `ADDRESS:PORT` of the room server. */
  host: string
  room: string
  seconds: number
  /** `--relay`: iceTransportPolicy 'relay'. */
  relay?: boolean
  /** `--noise`: a camera of random pixels, which takes all the bitrate it is given. */
  noise?: boolean
  /** `--blind-to-network`: the bot does not watch its addresses, as a browser that tells nothing of a change. */
  blindToNetwork?: boolean
  /**
   * Leave out `--json`, so that the bot prints its progress lines and a run
   * can wait on them (the CLI prints one or the other); `summary` is then null
   * and the dump is what the run reads back.
   */
  progress?: boolean
}

/** One progress line of the bot CLI, as it arrived. */
export type Progress = {
  /** When the line arrived, ms since the epoch. */
  at: number
  /** Null until the bot is welcomed. */
  selfId: string | null
  /** The room machine's state: `online.joined`, `online.reconnecting`… */
  room: string
  peers: Record<string, PeerReport['state']>
}

/** A bot process while it runs. */
export type LiveBot = {
  participant: Participant
  /** Its progress lines so far, oldest first (none with `--json`). */
  progress(): readonly Progress[]
  /**
   * Resolves once `check` holds for its latest progress line, with how long
   * that took; throws `what` after `timeoutMs`, or at once if the bot exited.
   */
  until(check: (latest: Progress) => boolean, what: string, timeoutMs?: number): Promise<number>
  /** The candidate pair each of its connections uses, by peer id, as `local remote`, from its stats (none with `--json`). */
  paths(): Readonly<Record<string, string>>
  /** Resolves once its stats name the candidate pair of `peers` connections; as {@link until} otherwise. */
  untilPaths(peers: number, timeoutMs?: number): Promise<number>
  done: Promise<BotRun>
}

/**
 * Starts one bot (`--peers 1`) in the participant's home namespace for
 * `seconds`; `done` resolves when it has exited, with its summary and
 * session. It is killed (and its summary missing) if it outlives `seconds`
 * by 30 s.
 */
export function startBot(lab: Lab, participant: Participant, options: BotOptions): LiveBot {
  const dir = mkdtempSync(join(lab.tmp, `bot${participant.index}-`))
  const dumpFile = join(dir, 'session.json')
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'scripts/bot.ts'),
    '--host',
    options.host,
    '--room',
    options.room,
    '--peers',
    '1',
    '--seconds',
    String(options.seconds),
    ...(options.progress ? [] : ['--json']),
    '--dump',
    dumpFile,
    // Four samples a second: a recovery's first frames are dated to within 250 ms.
    '--stats-ms',
    String(STATS_MS),
    ...(options.relay ? ['--relay'] : []),
    ...(options.noise ? ['--noise'] : []),
    ...(options.blindToNetwork ? ['--blind-to-network'] : []),
  ]
  const proc = lab.spawn(participant.home, process.execPath, args, { cwd: ROOT })
  const lines: Progress[] = []
  const paths: Record<string, string> = {}
  let partial = ''
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8')
    const complete = text.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) {
      const parsed = parseProgress(line, Date.now())
      if (parsed) lines.push(parsed)
      const path = parsePath(line)
      if (path) paths[path.peerId] = path.path
    }
  })
  const overdue = setTimeout(() => void proc.stop(), (options.seconds + 30) * 1000)
  const done = proc.exited.then((exitCode) => {
    clearTimeout(overdue)
    const run = { participant, exitCode, summary: parseSummary(proc.stdout()), dump: readDump(dumpFile), output: proc.output() }
    rmSync(dir, { recursive: true, force: true })
    return run
  })
  const until = (check: () => boolean, what: string, timeoutMs = 30_000) =>
    waitFor(
      () => {
        if (check()) return true
        if (proc.child.exitCode !== null || proc.child.signalCode !== null)
          throw new Error(`bot ${participant.index} exited before ${what}`)
        return false
      },
      { what: `bot ${participant.index}: ${what}`, timeoutMs, detail: () => proc.output().slice(-2000) },
    )
  return {
    participant,
    progress: () => lines,
    until: (check, what, timeoutMs) =>
      until(
        () => {
          const latest = lines.at(-1)
          return latest !== undefined && check(latest)
        },
        what,
        timeoutMs,
      ),
    paths: () => paths,
    untilPaths: (peers, timeoutMs) =>
      until(() => Object.keys(paths).length >= peers, `the candidate pairs of ${peers} connections`, timeoutMs),
    done,
  }
}

/** Runs one bot to its end: {@link startBot}, awaited. */
export function runBot(lab: Lab, participant: Participant, options: BotOptions): Promise<BotRun> {
  return startBot(lab, participant, options).done
}

const PEER_STATES = new Set<string>(['connecting', 'connected', 'reconnecting', 'failed'])

/** Parses `  3.2s Bot 1 (abc) online.joined | def:connected` (scripts/bot.ts `progress()`); null for any other line. */
export function parseProgress(line: string, at: number): Progress | null {
  const match = /^\s*\d+\.\ds .+? \((\S+)\) (\S+)(?: \| (.*))?$/.exec(line)
  if (!match) return null
  const [, self, room, list = ''] = match
  const peers: Progress['peers'] = {}
  for (const item of list.split(' ').filter(Boolean)) {
    const colon = item.lastIndexOf(':')
    const state = item.slice(colon + 1)
    if (colon <= 0 || !isPeerState(state)) return null
    peers[item.slice(0, colon)] = state
  }
  return { at, selfId: self === '…' ? null : self, room, peers }
}

/** Parses `  3.2s Bot 1 (abc) path def 100.64.1.2:5000 203.0.113.3:6000 host/srflx` (scripts/bot.ts `progress()`); null for any other line. */
export function parsePath(line: string): { peerId: string; path: string } | null {
  const match = /^\s*\d+\.\ds .+? \(\S+\) path (\S+) (\S+ \S+) \S+$/.exec(line)
  return match ? { peerId: match[1], path: match[2] } : null
}

function isPeerState(value: string): value is PeerReport['state'] {
  return PEER_STATES.has(value)
}

function parseSummary(stdout: string): BotSummary | null {
  const start = stdout.indexOf('{')
  if (start < 0) return null
  try {
    return JSON.parse(stdout.slice(start)) as BotSummary
  } catch {
    return null
  }
}

function readDump(file: string): SessionDump | null {
  try {
    return parseDump(JSON.parse(readFileSync(file, 'utf8')))
  } catch {
    return null
  }
}

/**
 * How long each of the bot's peer connections took from the peer's first
 * state (the remote became known) to its first `connected`, from the bot's
 * own timeline. Null for a peer that never connected.
 */
export function connectTimes(run: BotRun): Record<string, number | null> {
  const times: Record<string, number | null> = {}
  const dump = run.dump
  if (!dump) return times
  for (const actor of dump.actors.filter((a) => a.kind === 'peer')) {
    const states = dump.entries.filter((e) => e.kind === 'state' && e.actor === actor.label)
    const first = states[0]
    const connected = states.find((e) => e.kind === 'state' && e.tags.includes('connected'))
    times[actor.peerId ?? actor.label] = first && connected ? connected.t - first.t : null
  }
  return times
}

/** A progress check: joined, and connected to `peers` others. */
export const connectedTo =
  (peers: number) =>
  (p: Progress): boolean =>
    p.room === 'online.joined' && Object.keys(p.peers).length === peers && Object.values(p.peers).every((s) => s === 'connected')
