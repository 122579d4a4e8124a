/**
 * What a bot's session dump (`--dump`) says about each pair and its room,
 * read back after the bot exited: the peer actor's states with the parts of
 * its context the scenarios check, the room actor's states, and the
 * once-a-second stats samples.
 */
import * as v from 'valibot'
import type { SessionDump } from '../../machines/inspect/recorder'
import type { StatsSample } from '../../machines/inspect/stats'
import type { PeerReport } from '../../machines/node/bots'

/** The peer machine's context as the recorder keeps it (sanitised), reduced to what is read here. */
const PeerContext = v.looseObject({
  totalRestarts: v.number(),
  recoveries: v.array(v.object({ cause: v.string(), ms: v.number() })),
  signaling: v.looseObject({ session: v.number() }),
  link: v.looseObject({ failure: v.nullable(v.looseObject({ reason: v.string(), message: v.string() })) }),
})

/** One state of a peer actor. */
export type PeerMoment = {
  /** ms since the epoch. */
  t: number
  state: PeerReport['state']
  restarts: number
  recoveries: { cause: string; ms: number }[]
  /** This side's signaling session: a new one means a new RTCPeerConnection. */
  session: number
  failure: { reason: string; message: string } | null
}

function tagState(tags: string[]): PeerReport['state'] {
  if (tags.includes('connected')) return 'connected'
  if (tags.includes('reconnecting')) return 'reconnecting'
  if (tags.includes('failed')) return 'failed'
  return 'connecting'
}

/** Every recorded state of the bot's peer actor for `peerId`, oldest first. */
export function peerMoments(dump: SessionDump | null, peerId: string): PeerMoment[] {
  if (!dump) return []
  return dump.entries.flatMap((entry) => {
    if (entry.kind !== 'state' || entry.actor !== peerId) return []
    const parsed = v.safeParse(PeerContext, entry.context)
    if (!parsed.success) return []
    const { totalRestarts, recoveries, signaling, link } = parsed.output
    return [
      { t: entry.t, state: tagState(entry.tags), restarts: totalRestarts, recoveries, session: signaling.session, failure: link.failure },
    ]
  })
}

/** The room actor's states, as `online.joined`-style names, with their times. */
export function roomMoments(dump: SessionDump | null): { t: number; room: string }[] {
  if (!dump) return []
  return dump.entries.flatMap((entry) => {
    if (entry.kind !== 'state' || entry.actor !== 'room') return []
    const value = entry.value
    const room = typeof value === 'string' ? value : Object.entries(value).map(([parent, child]) => `${parent}.${String(child)}`)[0]
    return room === undefined ? [] : [{ t: entry.t, room }]
  })
}

/** The stats samples of the bot's connection to `peerId`, once a second. */
export function statsOf(dump: SessionDump | null, peerId: string): StatsSample[] {
  return dump?.stats[peerId] ?? []
}

/** The first moment at or after `from` (ms since the epoch) that is in `state`, or null. */
export function firstAfter(moments: PeerMoment[], from: number, state: PeerReport['state']): PeerMoment | null {
  return moments.find((m) => m.t >= from && m.state === state) ?? null
}
