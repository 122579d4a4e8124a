/**
 * What the fault scenarios check on the bots' timelines, one side of a
 * pair at a time: bot `from`'s peer actor for bot `to`, read from `from`'s
 * session dump. Each check returns what is wrong, as sentences.
 */
import type { BotRun } from './bots'
import type { StatsSample } from '../../machines/inspect/stats'
import { firstAfter, peerMoments, statsOf, type PeerMoment } from './timeline'

/** When each step of a drive happened, ms since the epoch, by name. */
export type Marks = Record<string, number>

/** The participant's id in the room, from its summary or its dump. */
export function selfIdOf(run: BotRun): string | null {
  return run.summary?.bots[0]?.id ?? run.dump?.selfId ?? null
}

/** One side of a pair (1-based participant indexes). */
export type Side = { who: string; run: BotRun; peerId: string | null; moments: PeerMoment[] }

export function side(runs: BotRun[], from: number, to: number): Side {
  const run = runs[from - 1]
  const peerId = selfIdOf(runs[to - 1])
  return { who: `bot ${from}'s pair with bot ${to}`, run, peerId, moments: peerId ? peerMoments(run.dump, peerId) : [] }
}

/**
 * When the first bot took its dump. Each bot reports and dumps as its time
 * runs out, then leaves, so what the others record after that is the end
 * of the call, not the scenario.
 */
export function callEnd(runs: BotRun[]): number {
  return Math.min(...runs.map((run) => run.dump?.createdAt ?? Infinity))
}

/** Each bot left a dump and an id: without them nothing else can be read. */
export function readable(runs: BotRun[]): string[] {
  return runs.flatMap((run) =>
    run.dump && selfIdOf(run)
      ? []
      : [`bot ${run.participant.index} left no dump or id (exit ${run.exitCode}):\n${run.output.slice(-3000)}`],
  )
}

const sessions = (moments: PeerMoment[]) => [...new Set(moments.map((m) => m.session))]

/** Connected at some point. */
export function connected(s: Side): string[] {
  return s.moments.some((m) => m.state === 'connected') ? [] : [`${s.who} never connected`]
}

/** Stayed connected from its first `connected` to the end of the call, on one connection, with no recovery. */
export function neverDropped(s: Side, end: number): string[] {
  const from = s.moments.findIndex((m) => m.state === 'connected')
  if (from < 0) return [`${s.who} never connected`]
  const after = s.moments.slice(from).filter((m) => m.t <= end)
  const problems: string[] = []
  const dropped = after.find((m) => m.state !== 'connected')
  if (dropped) problems.push(`${s.who} went ${dropped.state} ${dropped.t - s.moments[from].t} ms after connecting`)
  const recoveries = after.at(-1)?.recoveries ?? []
  if (recoveries.length > 0) problems.push(`${s.who} recorded recoveries ${JSON.stringify(recoveries)}`)
  if (sessions(after).length > 1) problems.push(`${s.who} changed connection (sessions ${sessions(after).join(', ')})`)
  return problems
}

/** Decoded video in every stats sample from `from` to `to` (and there were samples). */
export function videoThroughout(s: Side, from: number, to: number): string[] {
  if (!s.peerId) return [`${s.who}: no peer id`]
  const samples = statsOf(s.run.dump, s.peerId).filter((sample) => sample.t >= from && sample.t <= to)
  if (samples.length < ((to - from) / 1000) * 0.8) return [`${s.who} has ${samples.length} stats samples over ${to - from} ms`]
  const still = samples.filter((sample) => !((sample.fps ?? 0) > 0))
  return still.length === 0
    ? []
    : [`${s.who} decoded no video at ${still.map((sample) => `+${sample.t - from} ms`).join(', ')} (of ${samples.length} samples)`]
}

/**
 * The pair of a participant whose link was cut from `marks.cut` to
 * `marks.restored`: it left `connected` while cut (when `mustNotice`), was
 * connected again after, on the same RTCPeerConnection (its signaling
 * session unchanged), recorded a recovery from silence, `disconnected` or `failed`
 * (when it noticed), and decoded video after it was back.
 */
export function recoveredInPlace(s: Side, marks: Marks, { mustNotice }: { mustNotice: boolean }): string[] {
  const before = s.moments.find((m) => m.state === 'connected' && m.t < marks.cut)
  if (!before) return [`${s.who} was not connected before the cut`]
  const problems: string[] = []
  const noticed = leftConnectedAfter(s, marks) !== null
  if (mustNotice && !noticed)
    problems.push(`${s.who} never left connected while cut (states ${JSON.stringify(s.moments.map((m) => [m.t - marks.cut, m.state]))})`)
  // A side that never noticed is still connected: its moment at the restore is the one to go on from.
  const back = noticed ? firstAfter(s.moments, marks.restored, 'connected') : s.moments.filter((m) => m.t <= marks.restored).at(-1)
  if (!back || back.state !== 'connected') return [...problems, `${s.who} was not connected again after the restore`]
  const since = s.moments.filter((m) => m.t >= before.t)
  if (sessions(since).length > 1)
    problems.push(`${s.who} made a new connection (sessions ${sessions(since).join(', ')}) rather than recover the old one`)
  const recoveries = s.moments.at(-1)?.recoveries ?? []
  if (noticed && !recoveries.some((r) => r.cause !== 'restart'))
    problems.push(`${s.who} recorded no recovery from silence, 'disconnected' or 'failed' (${JSON.stringify(recoveries)})`)
  const frames = s.peerId
    ? statsOf(s.run.dump, s.peerId).filter((sample) => sample.t > Math.max(back.t, marks.restored) && (sample.fps ?? 0) > 0)
    : []
  if (frames.length === 0) problems.push(`${s.who} decoded no video after it was connected again`)
  return problems
}

/**
 * A pair that cannot connect and has no relay: never connected, and the
 * peer reported `no-relay` within its first failed attempt (at most one ICE
 * restart begun), in its timeline and, if the bot's summary still lists
 * the peer, in the summary too.
 */
export function noRelay(s: Side): string[] {
  if (s.moments.length === 0) return [`${s.who}: the peer never met the other`]
  const problems: string[] = []
  if (s.moments.some((m) => m.state === 'connected')) problems.push(`${s.who} connected, though no path exists`)
  const diagnosed = s.moments.find((m) => m.failure?.reason === 'no-relay')
  if (!diagnosed)
    problems.push(
      `${s.who} never reported no-relay (failures: ${JSON.stringify([...new Set(s.moments.map((m) => m.failure?.reason ?? null))])})`,
    )
  else if (diagnosed.restarts > 1) problems.push(`${s.who} reported no-relay only after ${diagnosed.restarts} ICE restarts`)
  const reported = s.run.summary?.bots[0]?.peers.find((p) => p.id === s.peerId)
  if (reported && reported.problem?.reason !== 'no-relay')
    problems.push(`${s.who}: the summary says ${reported.state}, problem ${JSON.stringify(reported.problem)}`)
  return problems
}

/** ms from the peer's first state to its no-relay diagnosis, or null. */
export function noRelayAfter(s: Side): number | null {
  const diagnosed = s.moments.find((m) => m.failure?.reason === 'no-relay')
  return diagnosed && s.moments[0] ? diagnosed.t - s.moments[0].t : null
}

/** ms from `marks.cut` to the side's first state other than `connected` before `marks.restored`; null if it stayed connected. */
export function leftConnectedAfter(s: Side, marks: Marks): number | null {
  const left = s.moments.find((m) => m.t >= marks.cut && m.t <= marks.restored && m.state !== 'connected')
  return left ? left.t - marks.cut : null
}

/**
 * ms from `from` to the first stats sample after it in which the side
 * decoded video: the first new frames, dated to within one sample period
 * (the lab's bots sample four times a second); null if none came.
 */
export function videoBackAfter(s: Side, from: number): number | null {
  const sample = s.peerId ? statsOf(s.run.dump, s.peerId).find((x) => x.t > from && (x.fps ?? 0) > 0) : undefined
  return sample ? sample.t - from : null
}

/** The candidate pair's two addresses in a sample, as one string; null before a pair is selected. */
function path(sample: StatsSample | undefined): string | null {
  return sample?.pair ? `${sample.pair.localAddress} ${sample.pair.remoteAddress}` : null
}

/**
 * The first stats sample after `from` on another candidate pair than the
 * one in use at `from`: the pair moved to a new path (an ICE restart found
 * it). Null if it never moved.
 */
export function pathMovedAfter(s: Side, from: number): StatsSample | null {
  const samples = s.peerId ? statsOf(s.run.dump, s.peerId) : []
  const before = path(samples.filter((x) => x.t <= from).at(-1))
  if (before === null) return null
  return samples.find((x) => x.t > from && path(x) !== null && path(x) !== before) ?? null
}

/** For a failure's message: the candidate pair in use at `from`, and every one seen after it, in order, as `local remote` (types in brackets). */
export function pathsAround(s: Side, from: number): string {
  const samples = s.peerId ? statsOf(s.run.dump, s.peerId) : []
  const named = (x: StatsSample | undefined) => (x?.pair ? `${path(x)} [${x.pair.localType}/${x.pair.remoteType}]` : 'none')
  const after = samples.filter((x) => x.t > from).map(named)
  const distinct = after.filter((p, i) => p !== after[i - 1])
  return `at the fault ${named(samples.filter((x) => x.t <= from).at(-1))}; after it ${distinct.join(' → ') || 'no sample'} (${after.length} samples)`
}

/**
 * How long after \`from\` video was decoded again once it had stopped: the
 * first sample with frames after the first one without. 0 if it never
 * stopped; null if it stopped and never came back.
 */
export function videoResumedAfter(s: Side, from: number): number | null {
  const samples = (s.peerId ? statsOf(s.run.dump, s.peerId) : []).filter((x) => x.t > from)
  const stalled = samples.findIndex((x) => (x.fps ?? 0) === 0)
  if (stalled === -1) return 0
  const back = samples.slice(stalled).find((x) => (x.fps ?? 0) > 0)
  return back ? back.t - from : null
}

/** The mean of `pick` over the side's stats samples from `from` to `to` (ms since the epoch); null with no sample. */
export function meanOf(s: Side, from: number, to: number, pick: (sample: StatsSample) => number | null): number | null {
  const values = (s.peerId ? statsOf(s.run.dump, s.peerId) : []).filter((x) => x.t > from && x.t <= to).map(pick)
  const numbers = values.filter((x): x is number => x !== null)
  return numbers.length === 0 ? null : numbers.reduce((a, b) => a + b, 0) / numbers.length
}

/**
 * Each `windowMs` window from `from` to `to` in which `ok` fails for the
 * mean of `pick` over the window's samples (a window with no sample fails
 * too), as `+ms` offsets from `from`.
 */
export function failingWindows(
  s: Side,
  from: number,
  to: number,
  windowMs: number,
  pick: (sample: StatsSample) => number | null,
  ok: (mean: number) => boolean,
): string[] {
  const failing: string[] = []
  for (let start = from; start + windowMs <= to; start += windowMs) {
    const mean = meanOf(s, start, start + windowMs, pick)
    if (mean === null || !ok(mean)) failing.push(`+${start - from} ms: ${mean === null ? 'no sample' : Math.round(mean)}`)
  }
  return failing
}
