/**
 * The inspector's memory: what XState's inspection API (`createActor(…, {
 * inspect })`) reports about the room, media and peer actors, kept in a
 * bounded ring buffer so a session can be exported at any time, and
 * replayed later from the export alone.
 */
import * as v from 'valibot'
import type { InspectionEvent, StateValue } from 'xstate'
import { parseChannelMessage } from '../../protocol/channel'
import { SignalData } from '../../protocol/messages'
import { peerIdOfActor } from '../actorIds'
import { mediaMachine } from '../mediaMachine'
import { peerMachine } from '../peerMachine'
import { roomMachine } from '../roomMachine'
import type { StatsSample } from './stats'

export type ActorKind = 'room' | 'media' | 'peer'

/** A machine actor the inspector follows. `label` is `room`, `media` or the peer id. */
export type ActorInfo = { label: string; kind: ActorKind; peerId: string | null }

/** Signaling as the timeline shows it. */
export type SignalSummary = {
  direction: 'in' | 'out'
  peerId: string
  kind: SignalData['kind']
  sdpType: string | null
  candidateType: string | null
  protocol: string | null
  session: number
  ack: number | null
}

export type TimelineEntry =
  | { seq: number; t: number; actor: string; kind: 'event'; event: string; summary: string; signal: SignalSummary | null }
  | { seq: number; t: number; actor: string; kind: 'state'; value: StateValue; tags: string[]; context: unknown }

export type Descriptions = Record<string, { local: string | null; remote: string | null }>

export type Environment = {
  userAgent: string
  app: string
  protocol: number
  config: Record<string, unknown>
}

export const DUMP_FORMAT = 'meshcall-inspector'
export const DUMP_VERSION = 1

export type SessionDump = {
  format: typeof DUMP_FORMAT
  version: typeof DUMP_VERSION
  createdAt: number
  environment: Environment
  selfId: string | null
  actors: ActorInfo[]
  entries: TimelineEntry[]
  stats: Record<string, StatsSample[]>
  descriptions: Descriptions
  /** Each actor's latest state, kept even when the ring buffer has dropped its entries. */
  latest: Record<string, StateEntry>
}

export type StateEntry = Extract<TimelineEntry, { kind: 'state' }>

export type RecorderOptions = {
  /** Events and state changes kept (default 10,000). */
  maxEntries?: number
  /**
   * The timeline's size bound, in characters of the entries' JSON (default
   * 3 MiB): a state entry carries its actor's whole context, so the count
   * alone would let a busy call hold tens of MiB.
   */
  maxBytes?: number
  /** Participants who left whose stats, descriptions and last state are kept (default 8; older ones are forgotten). */
  maxDeparted?: number
  /** Stats kept per peer, in ms (default 5 minutes). */
  statsWindowMs?: number
  /** Leave ICE passwords, TURN credentials and join secrets in the dump (default false). */
  keepSecrets?: boolean
}

export type Recorder = {
  /** Pass as `inspect` to `createActor` / `createCall`. */
  inspect: (event: InspectionEvent) => void
  recordStats: (peerId: string, sample: StatsSample) => void
  entries: () => readonly TimelineEntry[]
  actors: () => readonly ActorInfo[]
  stats: () => Readonly<Record<string, readonly StatsSample[]>>
  descriptions: () => Descriptions
  latest: () => Readonly<Record<string, StateEntry>>
  selfId: () => string | null
  dump: (environment: Environment) => SessionDump
  /** Called after each change; for React's useSyncExternalStore. */
  subscribe: (listener: () => void) => () => void
  /** Grows with every change. */
  version: () => number
  /** The timeline's size as its bound counts it, and the bound (`maxBytes`). */
  size: () => { bytes: number; maxBytes: number; entries: number }
}

/** The machines whose actors are recorded, by their machine id. */
const MACHINE_KINDS: Record<string, ActorKind> = { [roomMachine.id]: 'room', [mediaMachine.id]: 'media', [peerMachine.id]: 'peer' }

/** What an entry costs beyond its summary or context, in the ring's size count. */
const ENTRY_OVERHEAD = 100

/** Keys whose values are secrets, in any context or event payload. */
const SECRET_KEYS = new Set(['secret', 'token', 'credential', 'password'])

/** Creates a recorder; pass `recorder.inspect` to the call. */
export function createRecorder(options: RecorderOptions = {}): Recorder {
  const maxEntries = options.maxEntries ?? 10_000
  const maxBytes = options.maxBytes ?? 3 * 2 ** 20
  const maxDeparted = options.maxDeparted ?? 8
  const statsWindowMs = options.statsWindowMs ?? 5 * 60_000
  const redact = !options.keepSecrets
  const ring: TimelineEntry[] = []
  /** Each ring entry's size, in the same order, and their sum. */
  const sizes: number[] = []
  let bytes = 0
  /** Peers who left, oldest first (see forgetDeparted). */
  const departed: string[] = []
  const actorsBySession = new Map<string, ActorInfo>()
  const lastState = new Map<string, string>()
  const latest: Record<string, StateEntry> = {}
  const stats: Record<string, StatsSample[]> = {}
  const descriptions: Descriptions = {}
  const listeners = new Set<() => void>()
  let seq = 0
  let version = 0
  let selfId: string | null = null
  let notifyQueued = false
  let failures = 0

  const changed = () => {
    version++
    // One notification per task, however many events a macrostep had; none
    // while the panel is closed (the usual case: stats arrive every second).
    if (notifyQueued || listeners.size === 0) return
    notifyQueued = true
    queueMicrotask(() => {
      notifyQueued = false
      for (const listener of listeners) listener()
    })
  }
  const push = (entry: TimelineEntry, size: number) => {
    ring.push(entry)
    sizes.push(size)
    bytes += size
    while (ring.length > 1 && (ring.length > maxEntries || bytes > maxBytes)) {
      ring.shift()
      bytes -= sizes.shift() ?? 0
    }
    changed()
  }

  /**
   * The room's snapshot lists the peers it has: any other peer recorded so
   * far has left. The last `maxDeparted` of them are kept for the inspector
   * (why did Bob's pair fail?); older ones are forgotten, or a long call with
   * people coming and going would keep every one of them.
   */
  const forgetDeparted = (present: string[]) => {
    for (const label of Object.keys(latest)) {
      if (actorKind(label) === 'peer' && !present.includes(label) && !departed.includes(label)) departed.push(label)
    }
    for (let i = departed.length - 1; i >= 0; i--) if (present.includes(departed[i])) departed.splice(i, 1)
    while (departed.length > maxDeparted) {
      const label = departed.shift() ?? ''
      delete latest[label]
      delete stats[label]
      delete descriptions[label]
      lastState.delete(label)
      for (const [session, info] of actorsBySession) if (info.label === label) actorsBySession.delete(session)
    }
  }
  const actorKind = (label: string) => [...actorsBySession.values()].find((info) => info.label === label)?.kind

  // An observer must never break what it observes: an exception thrown here
  // would surface inside the actor that emitted the event.
  const inspect = (event: InspectionEvent) => {
    try {
      record(event)
    } catch (error) {
      failures++
      if (failures === 1) console.warn('[meshcall inspector] an inspection event could not be recorded', error)
    }
  }

  const record = (event: InspectionEvent) => {
    if (event.type === '@xstate.actor') {
      const ref: object = event.actorRef
      const info = actorInfo('id' in ref && typeof ref.id === 'string' ? ref.id : '', 'logic' in ref ? ref.logic : null)
      if (info) actorsBySession.set(event.actorRef.sessionId, info)
      return
    }
    const actor = actorsBySession.get(event.actorRef.sessionId)
    if (event.type === '@xstate.event') {
      if (!actor || event.event.type.startsWith('xstate.')) return
      const payload: { type: string } & Record<string, unknown> = event.event
      if (isHeartbeat(payload)) return
      const summary = summarise(payload, redact)
      push(
        { seq: ++seq, t: Date.now(), actor: actor.label, kind: 'event', event: payload.type, summary, signal: signalOf(actor, payload) },
        ENTRY_OVERHEAD + summary.length,
      )
      return
    }
    if (event.type !== '@xstate.snapshot' || !actor) return
    const snapshot = machineSnapshotOf(event.snapshot)
    if (!snapshot) return
    // The SDP a context holds (the answer kept to send again) is left out:
    // the descriptions are recorded on their own, and one SDP is most of a
    // peer's context, in every one of its state entries.
    const context = sanitize(snapshot.context, redact, 0, true)
    const tags = [...snapshot.tags].sort()
    const key = JSON.stringify([snapshot.value, tags, context])
    if (actor.kind === 'room' && typeof snapshot.context.selfId === 'string') selfId = snapshot.context.selfId
    if (actor.kind === 'room' && isRecord(snapshot.context.peers)) forgetDeparted(Object.keys(snapshot.context.peers))
    if (actor.kind === 'peer') {
      const link = snapshot.context.link
      recordDescriptions(actor.label, isRecord(link) ? link.pc : null)
    }
    if (lastState.get(actor.label) === key) return
    lastState.set(actor.label, key)
    const entry: StateEntry = { seq: ++seq, t: Date.now(), actor: actor.label, kind: 'state', value: snapshot.value, tags, context }
    latest[actor.label] = entry
    push(entry, ENTRY_OVERHEAD + key.length)
  }

  const recordDescriptions = (peerId: string, pc: unknown) => {
    // Firefox throws InvalidStateError on reading a closed connection's descriptions.
    if (!isPeerConnection(pc) || pc.signalingState === 'closed') return
    const local = pc.localDescription?.sdp ?? null
    const remote = pc.remoteDescription?.sdp ?? null
    const current = descriptions[peerId]
    if (current?.local === local && current?.remote === remote) return
    descriptions[peerId] = { local, remote }
  }

  return {
    inspect,
    recordStats(peerId, sample) {
      const series = (stats[peerId] ??= [])
      series.push(sample)
      const oldest = sample.t - statsWindowMs
      while (series.length > 0 && series[0].t < oldest) series.shift()
      changed()
    },
    entries: () => ring,
    actors: () => [...new Map([...actorsBySession.values()].map((a) => [a.label, a])).values()],
    stats: () => stats,
    descriptions: () => descriptions,
    latest: () => latest,
    selfId: () => selfId,
    dump: (environment) => ({
      format: DUMP_FORMAT,
      version: DUMP_VERSION,
      createdAt: Date.now(),
      // sanitize() keeps an object's shape and only replaces secret values with strings.
      environment: redact ? (sanitize(environment, true, 0) as Environment) : environment,
      selfId,
      actors: [...new Map([...actorsBySession.values()].map((a) => [a.label, a])).values()],
      entries: [...ring],
      latest: { ...latest },
      stats: Object.fromEntries(Object.entries(stats).map(([id, series]) => [id, [...series]])),
      descriptions: Object.fromEntries(
        Object.entries(descriptions).map(([id, d]) => [
          id,
          { local: redact ? redactSdp(d.local) : d.local, remote: redact ? redactSdp(d.remote) : d.remote },
        ]),
      ),
    }),
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    version: () => version,
    size: () => ({ bytes, maxBytes, entries: ring.length }),
  }
}

function actorInfo(id: string, logic: unknown): ActorInfo | null {
  const machineId = typeof logic === 'object' && logic !== null && 'id' in logic && typeof logic.id === 'string' ? logic.id : null
  const kind = machineId ? MACHINE_KINDS[machineId] : undefined
  if (!kind) return null
  if (kind === 'peer') {
    const peerId = peerIdOfActor(id) ?? id
    return { label: peerId, kind, peerId }
  }
  return { label: kind, kind, peerId: null }
}

/** Direction, SDP type or candidate type and protocol, and session numbers of a signaling event. */
function signalOf(actor: ActorInfo, event: { type: string } & Record<string, unknown>): SignalSummary | null {
  if (actor.kind === 'peer' && event.type in SIGNAL_KINDS) {
    // The peer machine's signal events are the wire's SignalData, with the kind as the event type.
    const { type, ...rest } = event
    const parsed = v.safeParse(SignalData, { ...rest, kind: SIGNAL_KINDS[type] })
    return parsed.success ? summary('in', actor.label, parsed.output) : null
  }
  if (actor.kind === 'room' && event.type === 'peer.signal' && typeof event.peerId === 'string') {
    const parsed = v.safeParse(SignalData, event.data)
    return parsed.success ? summary('out', event.peerId, parsed.output) : null
  }
  return null
}

const SIGNAL_KINDS: Record<string, SignalData['kind']> = {
  'signal.description': 'description',
  'signal.candidate': 'candidate',
  'signal.endOfCandidates': 'end-of-candidates',
  'signal.restart': 'restart',
}

function summary(direction: 'in' | 'out', peerId: string, data: SignalData): SignalSummary {
  const description = data.kind === 'description' ? data.description : null
  const candidate = data.kind === 'candidate' ? data.candidate.candidate : null
  // candidate:<foundation> <component> <protocol> <priority> <address> <port> typ <type>
  const fields = candidate?.split(' ') ?? []
  const typ = fields.indexOf('typ')
  return {
    direction,
    peerId,
    kind: data.kind,
    sdpType: description?.type ?? null,
    candidateType: typ >= 0 ? (fields[typ + 1] ?? null) : null,
    protocol: fields[2]?.toLowerCase() ?? null,
    session: data.session,
    ack: data.ack ?? null,
  }
}

/** A one-line description of an event's payload, without SDP bodies or secrets. */
/**
 * The data channel's heartbeat (a ping and a pong each second each way) is
 * left out of the timeline: it would push everything else out of the ring.
 * What it finds shows anyway, as the liveness region's states.
 */
function isHeartbeat(event: { type: string } & Record<string, unknown>): boolean {
  if (event.type !== 'channel.message') return false
  const type = parseChannelMessage(event.data)?.type
  return type === 'ping' || type === 'pong'
}

function summarise(event: Record<string, unknown>, redact: boolean): string {
  const { type: _, ...rest } = event
  const text = JSON.stringify(sanitize(rest, redact, 0), (key, value) => (key === 'sdp' ? '…' : value))
  return text === '{}' ? '' : text.length > 240 ? `${text.slice(0, 237)}…` : text
}

/** The parts of a machine's snapshot the timeline keeps, or null for any other actor's snapshot. */
function machineSnapshotOf(snapshot: unknown): { value: StateValue; tags: Iterable<string>; context: Record<string, unknown> } | null {
  if (!isRecord(snapshot) || !v.is(StateValueSchema, snapshot.value)) return null
  const tags = snapshot.tags instanceof Set ? [...snapshot.tags].filter((tag): tag is string => typeof tag === 'string') : []
  return { value: snapshot.value, tags, context: isRecord(snapshot.context) ? snapshot.context : {} }
}

/** A JSON-safe copy: live objects become `[Type]`, secrets `[redacted]`, depth and size bounded. */
export function sanitize(value: unknown, redact: boolean, depth: number, omitSdp = false): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value
  if (typeof value === 'string') return value.length > 2_000 ? `${value.slice(0, 2_000)}…` : value
  if (typeof value === 'undefined' || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
    return undefined
  if (depth > 6) return '[…]'
  if (Array.isArray(value)) return value.slice(0, 100).map((item) => sanitize(item, redact, depth + 1, omitSdp))
  if (!isPlainObject(value)) return `[${typeName(value)}]`
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    if (redact && SECRET_KEYS.has(key)) out[key] = item == null ? item : '[redacted]'
    else if (key === 'username' && redact) out[key] = '[redacted]'
    // An SDP anywhere (a description in an event, the answer kept in context).
    else if (key === 'sdp' && omitSdp && typeof item === 'string') out[key] = `[SDP, ${item.length} characters: see the descriptions]`
    else if (key === 'sdp' && redact && typeof item === 'string') out[key] = sanitize(redactSdp(item), false, depth + 1)
    else out[key] = sanitize(item, redact, depth + 1, omitSdp)
  }
  return out
}

/** Removes the ICE password from an SDP (the ufrag alone is no credential). */
export function redactSdp(sdp: string | null): string | null {
  return sdp === null ? null : sdp.replace(/^a=ice-pwd:.*$/gm, 'a=ice-pwd:[redacted]')
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function typeName(value: object): string {
  return value.constructor?.name || 'Object'
}

function isPeerConnection(value: unknown): value is RTCPeerConnection {
  return isRecord(value) && 'signalingState' in value && 'localDescription' in value
}

const Sample = v.object({
  t: v.number(),
  outBps: v.nullable(v.number()),
  inBps: v.nullable(v.number()),
  rttMs: v.nullable(v.number()),
  lossPct: v.nullable(v.number()),
  jitterMs: v.nullable(v.number()),
  fps: v.nullable(v.number()),
  // Added later: dumps from before have neither.
  audioPps: v.optional(v.nullable(v.number()), null),
  videoOutBps: v.optional(v.nullable(v.number()), null),
  pair: v.nullable(v.looseObject({ localType: v.string(), remoteType: v.string(), protocol: v.string() })),
})
const Signal = v.object({
  direction: v.picklist(['in', 'out']),
  peerId: v.string(),
  kind: v.picklist(['description', 'candidate', 'end-of-candidates', 'restart']),
  sdpType: v.nullable(v.string()),
  candidateType: v.nullable(v.string()),
  protocol: v.nullable(v.string()),
  session: v.number(),
  ack: v.nullable(v.number()),
})
const StateValueSchema: v.GenericSchema<StateValue> = v.union([
  v.string(),
  v.record(
    v.string(),
    v.lazy(() => StateValueSchema),
  ),
])
const StateEntrySchema = v.object({
  seq: v.number(),
  t: v.number(),
  actor: v.string(),
  kind: v.literal('state'),
  value: StateValueSchema,
  tags: v.array(v.string()),
  context: v.unknown(),
})
const Dump = v.object({
  format: v.literal(DUMP_FORMAT),
  version: v.literal(DUMP_VERSION),
  createdAt: v.number(),
  environment: v.object({ userAgent: v.string(), app: v.string(), protocol: v.number(), config: v.record(v.string(), v.unknown()) }),
  selfId: v.nullable(v.string()),
  actors: v.array(v.object({ label: v.string(), kind: v.picklist(['room', 'media', 'peer']), peerId: v.nullable(v.string()) })),
  entries: v.array(
    v.variant('kind', [
      v.object({
        seq: v.number(),
        t: v.number(),
        actor: v.string(),
        kind: v.literal('event'),
        event: v.string(),
        summary: v.string(),
        signal: v.nullable(Signal),
      }),
      StateEntrySchema,
    ]),
  ),
  stats: v.record(v.string(), v.array(Sample)),
  descriptions: v.record(v.string(), v.object({ local: v.nullable(v.string()), remote: v.nullable(v.string()) })),
  latest: v.record(v.string(), StateEntrySchema),
})

/**
 * Reads a session dump (a parsed JSON value).
 * @throws Error saying what is wrong with it, for the person who dropped the file.
 */
export function parseDump(json: unknown): SessionDump {
  const result = v.safeParse(Dump, json)
  if (result.success) return result.output
  const issue = result.issues[0]
  const path = v.getDotPath(issue)
  throw new Error(`not a meshcall inspector dump: ${path ? `${path}: ` : ''}${issue.message}`)
}
