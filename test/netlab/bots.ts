/**
 * Participants of the lab: one `scripts/bot.ts` process per home namespace,
 * with its `--json` summary and its `--dump` session read back when it exits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { BotReport } from '../../machines/node/bots'
import { parseDump, type SessionDump } from '../../machines/inspect/recorder'
import type { Lab, Participant } from './lab'

const ROOT = new URL('../..', import.meta.url).pathname

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
}

/**
 * Runs one bot (`--peers 1`) in the participant's home namespace for
 * `seconds`, and resolves when it has exited, with its summary and session.
 * It is killed (and its summary missing) if it outlives `seconds` by 30 s.
 */
export async function runBot(lab: Lab, participant: Participant, options: BotOptions): Promise<BotRun> {
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
    '--json',
    '--dump',
    dumpFile,
    ...(options.relay ? ['--relay'] : []),
  ]
  const proc = lab.spawn(participant.home, process.execPath, args, { cwd: ROOT })
  const overdue = setTimeout(() => void proc.stop(), (options.seconds + 30) * 1000)
  try {
    const exitCode = await proc.exited
    return { participant, exitCode, summary: parseSummary(proc.stdout()), dump: readDump(dumpFile), output: proc.output() }
  } finally {
    clearTimeout(overdue)
    rmSync(dir, { recursive: true, force: true })
  }
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
