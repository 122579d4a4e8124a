/**
 * The lab's bot scenarios: each builds a lab, starts coturn and the room
 * server in it, applies its faults, runs one bot per participant, checks
 * what the bots report, and tears everything down. Framework-free: the
 * Vitest suite (scenarios.test.ts) and `npm run netlab -- NAME` both run them.
 */
import { randomBytes } from 'node:crypto'
import type { CandidatePair } from '../../machines/node/bots'
import { connectTimes, runBot, type BotRun } from './bots'
import { allowOnlyTcpTo, type Fault } from './faults'
import { createLab, type Lab, type NatKind } from './lab'
import { startCoturn, startLabRoomServer, TURN_PORT, type LabServer } from './services'

/** The room server's port inside the lab. */
export const ROOM_PORT = 1999

export type Scenario = {
  name: string
  /** One line: the network and what must happen on it. */
  description: string
  nats: NatKind[]
  /** Bots relay everything (`--relay`, iceTransportPolicy 'relay'). */
  relay?: boolean
  /** Faults applied once the servers are up, before the bots start. */
  faults?: (lab: Lab) => Fault[]
  /** What is wrong with the bots' reports: an empty list passes. */
  check: (runs: BotRun[]) => string[]
}

export type ScenarioResult = {
  name: string
  problems: string[]
  runs: BotRun[]
  /** The candidate pair each bot reported for the other, e.g. `bot 1: srflx→srflx udp`. */
  pairs: string[]
  /** ms: lab built, servers up, and each bot's time from meeting its peer to connected. */
  timings: Record<string, number | null>
}

/** How long each bot stays in the call. Connecting takes a few seconds; the rest proves it holds. */
const BOT_SECONDS = 12

/** What every scenario needs: each bot exited 0, joined, and connected to the other, per its own timeline. */
function basics(runs: BotRun[]): string[] {
  const problems: string[] = []
  for (const run of runs) {
    const who = `bot ${run.participant.index}`
    if (!run.summary) {
      problems.push(`${who} printed no summary (exit ${run.exitCode}):\n${run.output.slice(-3000)}`)
      continue
    }
    if (run.exitCode !== 0 || !run.summary.ok)
      problems.push(`${who} exited ${run.exitCode}, ok=${run.summary.ok}, failures ${JSON.stringify(run.summary.failures)}`)
    if (run.summary.bots[0]?.id == null) problems.push(`${who} never joined`)
    const times = Object.values(connectTimes(run))
    if (times.length === 0 || times.some((t) => t === null))
      problems.push(`${who} did not reach connected with its peer (timeline: ${JSON.stringify(connectTimes(run))})`)
  }
  return problems
}

/**
 * The pair each bot reported for the other participant. A bot reports when
 * its time is up; the bot that ends second has usually seen the other leave
 * by then, so at least one report, not both, is expected.
 */
export function reportedPairs(runs: BotRun[]) {
  return runs.flatMap((run) =>
    (run.summary?.bots[0]?.peers ?? []).map((peer) => ({ bot: run.participant.index, state: peer.state, pair: peer.candidatePair })),
  )
}

function checkPairs(runs: BotRun[], what: string, good: (pair: CandidatePair) => boolean) {
  const problems = basics(runs)
  // The bot that ends second may still list the other as it leaves: only connected reports count.
  const all = reportedPairs(runs)
  const pairs = all.filter((p) => p.state === 'connected')
  if (pairs.length === 0) problems.push(`no bot reported its peer connected (reports: ${JSON.stringify(all)})`)
  for (const { bot, pair } of pairs) {
    if (!pair) problems.push(`bot ${bot} reported no candidate pair`)
    else if (!good(pair))
      problems.push(`bot ${bot} used ${pair.local}→${pair.remote} ${pair.protocol} (relay over ${pair.relayProtocol}); expected ${what}`)
  }
  return problems
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'nat-direct',
    description: 'two endpoint-independent NATs: the pair connects directly (no relay), by hole punching through both',
    nats: ['eim', 'eim'],
    check: (runs) => checkPairs(runs, 'a direct pair (no relay)', (p) => p.local !== 'relay' && p.remote !== 'relay'),
  },
  {
    name: 'symmetric-turn',
    description: "two symmetric NATs: no direct path, so the pair connects through coturn with the room server's per-peer credentials",
    nats: ['symmetric', 'symmetric'],
    check: (runs) => checkPairs(runs, 'a relay on at least one side', (p) => p.local === 'relay' || p.remote === 'relay'),
  },
  {
    name: 'udp-blocked',
    description:
      'both routers let through only TCP to the server (TURN and signaling): relay-only bots connect through turn:…?transport=tcp',
    nats: ['eim', 'eim'],
    // With iceTransportPolicy 'all' this does not connect in the lab: coturn
    // answers one CreatePermission with 403 Forbidden IP and no check ever
    // crosses the relays, while the same lab with relay-only bots connects.
    // Relay-only bots prove the TCP path itself until that is understood.
    relay: true,
    faults: (lab) => lab.participants.map((p) => allowOnlyTcpTo(lab, p, lab.server.address, [TURN_PORT, ROOM_PORT])),
    check: (runs) => checkPairs(runs, 'a local relay reached over TCP', (p) => p.local === 'relay' && p.relayProtocol === 'tcp'),
  },
]

/** Finds a scenario by name, or throws listing the names. */
export function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name)
  if (!scenario) throw new Error(`no scenario ${name}; there are: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  return scenario
}

/**
 * Runs a scenario from start to end: builds its lab, starts coturn and the
 * room server (STUN and TURN over UDP and TCP in `welcome.iceServers`),
 * applies its faults, runs its bots at once, checks them, and tears it all
 * down whatever happens. `log` gets a line per step.
 */
export async function runScenario(
  scenario: Scenario,
  { log = () => undefined }: { log?: (line: string) => void } = {},
): Promise<ScenarioResult> {
  const timings: Record<string, number | null> = {}
  let started = Date.now()
  const lab = createLab({ nats: scenario.nats, log })
  timings.labMs = Date.now() - started
  const servers: LabServer[] = []
  try {
    const secret = randomBytes(16).toString('hex')
    const at = lab.server.address
    started = Date.now()
    const turn = await startCoturn(lab, { secret })
    servers.push(turn)
    log(`coturn on ${at}:${TURN_PORT} (STUN, TURN over UDP and TCP)`)
    const room = await startLabRoomServer(lab, {
      port: ROOM_PORT,
      vars: {
        MESHCALL_ICE_URLS: [
          `stun:${at}:${TURN_PORT}`,
          `turn:${at}:${TURN_PORT}?transport=udp`,
          `turn:${at}:${TURN_PORT}?transport=tcp`,
        ].join(','),
        MESHCALL_TURN_SECRET: secret,
        MESHCALL_MAX_PEERS: String(scenario.nats.length),
      },
    })
    servers.push(room)
    timings.serversMs = Date.now() - started
    log(`room server on ${at}:${ROOM_PORT}`)

    for (const fault of scenario.faults?.(lab) ?? []) log(`fault: ${fault.name}`)

    const roomName = `${scenario.name}-${lab.id}`
    log(`${lab.participants.length} bots${scenario.relay ? ' (relay only)' : ''} join ${roomName} for ${BOT_SECONDS} s`)
    const runs = await Promise.all(
      lab.participants.map((p) =>
        runBot(lab, p, { host: `${at}:${ROOM_PORT}`, room: roomName, seconds: BOT_SECONDS, relay: scenario.relay }),
      ),
    )
    for (const run of runs) {
      const [ms = null] = Object.values(connectTimes(run))
      timings[`bot${run.participant.index}ConnectMs`] = ms
      log(`bot ${run.participant.index} exited ${run.exitCode}, connected in ${ms ?? 'never'} ms`)
    }
    const pairs = reportedPairs(runs).map(
      ({ bot, state, pair }) =>
        `bot ${bot}: ${state}${pair ? `, ${pair.local}→${pair.remote} ${pair.protocol}${pair.relayProtocol ? ` (relay over ${pair.relayProtocol})` : ''}` : ''}`,
    )
    pairs.forEach((line) => log(line))
    const problems = scenario.check(runs)
    if (problems.length > 0) {
      problems.push(`room server log:\n${room.process.output().slice(-3000)}`, `coturn log:\n${turn.process.output().slice(-4000)}`)
    }
    return { name: scenario.name, problems, runs, pairs, timings }
  } finally {
    for (const server of servers.reverse()) await server.stop()
    lab.teardown()
  }
}
