import type { TFunction } from 'i18next'
import { useEffect, useMemo, useState } from 'react'
import { useTranslation } from 'react-i18next'
import type { AnyStateMachine, StateValue } from 'xstate'
import { activeStateIds } from '../../../machines/inspect/graph'
import type { ActorInfo, ActorKind, Descriptions, StateEntry, TimelineEntry } from '../../../machines/inspect/recorder'
import type { StatsSample } from '../../../machines/inspect/stats'
import { mediaMachine } from '../../../machines/mediaMachine'
import { peerMachine } from '../../../machines/peerMachine'
import { roomMachine } from '../../../machines/roomMachine'
import { safetyCode } from '../../../machines/safetyCode'
import { Statechart } from './Statechart'
import { StatsCharts } from './StatsCharts'
import './inspector.css'

/** What the view shows: a live recorder's contents, or an imported dump. */
export type InspectorData = {
  actors: readonly ActorInfo[]
  entries: readonly TimelineEntry[]
  latest: Readonly<Record<string, StateEntry>>
  stats: Readonly<Record<string, readonly StatsSample[]>>
  descriptions: Descriptions
  selfId: string | null
}

const MACHINES: Record<ActorKind, AnyStateMachine> = { room: roomMachine, media: mediaMachine, peer: peerMachine }
const SHOWN = 400
const KINDS = ['all', 'events', 'states', 'signaling'] as const
type Kind = (typeof KINDS)[number]
const isKind = (value: string): value is Kind => KINDS.some((kind) => kind === value)

/**
 * The inspector's views: the mesh, each actor's statechart, the timeline,
 * WebRTC stats and descriptions, at the live moment or at a chosen entry.
 */
export function InspectorView({ data, at, onSelect }: { data: InspectorData; at: number | null; onSelect: (seq: number | null) => void }) {
  const { t } = useTranslation()
  const [peer, setPeer] = useState('all')
  const [kind, setKind] = useState<Kind>('all')
  const moment = at === null ? null : (data.entries.find((e) => e.seq === at) ?? null)
  const states = useMemo(() => statesAt(data, at), [data, at])
  const transitions = useMemo(() => lastTransitions(data, at), [data, at])
  const filtered = useMemo(
    () =>
      data.entries
        .filter((e) => peer === 'all' || e.actor === peer || (e.kind === 'event' && e.signal?.peerId === peer))
        .filter((e) =>
          kind === 'all'
            ? true
            : kind === 'events'
              ? e.kind === 'event'
              : kind === 'states'
                ? e.kind === 'state'
                : e.kind === 'event' && e.signal !== null,
        )
        .slice(-SHOWN),
    [data.entries, peer, kind],
  )
  const peers = data.actors.filter((a) => a.kind === 'peer')
  const start = data.entries[0]?.t ?? 0
  const selectedState = moment ? (moment.kind === 'state' ? moment : states[moment.actor]) : null

  return (
    <div className="inspector-view">
      <section aria-label={t('inspector.mesh.region')} className="mesh">
        <h3>{t('inspector.mesh.title')}</h3>
        <MeshOverview data={data} states={states} />
      </section>
      <section aria-label={t('inspector.charts.region')} className="charts">
        <h3>{moment ? t('inspector.charts.at', { seq: moment.seq }) : t('inspector.charts.live')}</h3>
        {data.actors.map((actor) => {
          const state = states[actor.label]
          if (!state) return null
          return (
            <Statechart
              key={actor.label}
              machine={MACHINES[actor.kind]}
              actorId={actor.label}
              value={state.value}
              lastTransition={transitions[actor.label] ?? null}
              title={actor.kind === 'peer' ? `peer ${actor.label}` : actor.kind}
            />
          )
        })}
      </section>
      <section aria-label={t('inspector.timeline.title')} className="timeline">
        <h3>{t('inspector.timeline.title')}</h3>
        <div className="filters">
          <label>
            {t('inspector.timeline.peer')}{' '}
            <select value={peer} onChange={(e) => setPeer(e.target.value)}>
              <option value="all">{t('inspector.timeline.all')}</option>
              <option value="room">room</option>
              <option value="media">media</option>
              {peers.map((p) => (
                <option key={p.label} value={p.label}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t('inspector.timeline.kind')}{' '}
            <select
              value={kind}
              onChange={(e) => {
                const value = e.target.value
                if (isKind(value)) setKind(value)
              }}
            >
              <option value="all">{t('inspector.timeline.all')}</option>
              <option value="events">{t('inspector.timeline.events')}</option>
              <option value="states">{t('inspector.timeline.states')}</option>
              <option value="signaling">{t('inspector.timeline.signaling')}</option>
            </select>
          </label>
          {at !== null && (
            <button type="button" onClick={() => onSelect(null)}>
              {t('inspector.timeline.back')}
            </button>
          )}
        </div>
        <ol>
          {filtered.map((entry) => (
            <li key={entry.seq}>
              <button
                type="button"
                data-testid="timeline-entry"
                aria-pressed={entry.seq === at}
                className={`entry ${entry.kind}`}
                onClick={() => onSelect(entry.seq)}
              >
                <time>{((entry.t - start) / 1000).toFixed(3)}s</time>
                <span className="actor">{entry.actor}</span>
                <span className="text">{describe(entry, t)}</span>
              </button>
            </li>
          ))}
        </ol>
        {selectedState && moment && (
          <details open className="snapshot">
            <summary>
              {t('inspector.timeline.snapshot', {
                actor: selectedState.actor,
                seq: moment.seq,
                value: JSON.stringify(selectedState.value),
              })}
            </summary>
            <pre>{JSON.stringify({ tags: selectedState.tags, context: selectedState.context }, null, 2)}</pre>
          </details>
        )}
      </section>
      <section aria-label={t('inspector.stats.region')} className="stats">
        <h3>{t('inspector.stats.title')}</h3>
        {peers.map((p) => (
          <div key={p.label} className="peer-stats">
            <h4>{p.label}</h4>
            <StatsCharts peerId={p.label} samples={samplesUntil(data.stats[p.label] ?? [], moment?.t ?? null)} />
          </div>
        ))}
      </section>
      <section aria-label={t('inspector.sdp.region')} className="sdp">
        <h3>{t('inspector.sdp.title')}</h3>
        {peers.map((p) => (
          <details key={p.label}>
            <summary>{p.label}</summary>
            <SafetyCodeLine
              room={roomOf(states.room?.context)}
              local={data.descriptions[p.label]?.local ?? null}
              remote={data.descriptions[p.label]?.remote ?? null}
            />
            <h4>{t('inspector.sdp.local')}</h4>
            <pre>{data.descriptions[p.label]?.local ?? t('inspector.sdp.none')}</pre>
            <h4>{t('inspector.sdp.remote')}</h4>
            <pre>{data.descriptions[p.label]?.remote ?? t('inspector.sdp.none')}</pre>
          </details>
        ))}
      </section>
    </div>
  )
}

/** Each actor's state at entry `at` (the latest when null). */
function statesAt(data: InspectorData, at: number | null): Record<string, StateEntry> {
  if (at === null) return { ...data.latest }
  const result: Record<string, StateEntry> = {}
  for (const entry of data.entries) {
    if (entry.seq > at) break
    if (entry.kind === 'state') result[entry.actor] = entry
  }
  // Actors with no state before `at` in the buffer show their first known one.
  for (const entry of data.entries) {
    if (entry.kind === 'state' && !(entry.actor in result)) result[entry.actor] = entry
  }
  for (const [actor, entry] of Object.entries(data.latest)) result[actor] ??= entry
  return result
}

/** For each actor, the transition into its state at `at`: which nodes it left and entered. */
function lastTransitions(data: InspectorData, at: number | null) {
  const previous: Record<string, StateEntry> = {}
  const current: Record<string, StateEntry> = {}
  const events: Record<string, string> = {}
  for (const entry of data.entries) {
    if (at !== null && entry.seq > at) break
    if (entry.kind === 'event') events[entry.actor] = entry.event
    else {
      if (current[entry.actor]) previous[entry.actor] = current[entry.actor]
      current[entry.actor] = entry
    }
  }
  const result: Record<string, { sourceIds: string[]; targetIds: string[]; event: string }> = {}
  for (const actor of data.actors) {
    const before = previous[actor.label]
    const after = current[actor.label]
    if (!before || !after) continue
    const machine = MACHINES[actor.kind]
    const was = new Set(activeStateIds(machine, before.value))
    const now = new Set(activeStateIds(machine, after.value))
    result[actor.label] = {
      sourceIds: [...was].filter((id) => !now.has(id)),
      targetIds: [...now].filter((id) => !was.has(id)),
      event: events[actor.label] ?? '',
    }
  }
  return result
}

function samplesUntil(samples: readonly StatsSample[], t: number | null): StatsSample[] {
  return t === null ? [...samples] : samples.filter((s) => s.t <= t)
}

function describe(entry: TimelineEntry, t: TFunction): string {
  if (entry.kind === 'state') return `→ ${stateText(entry.value)}${entry.tags.length ? ` [${entry.tags.join(', ')}]` : ''}`
  const s = entry.signal
  if (s) {
    const arrow = s.direction === 'in' ? t('inspector.timeline.from', { peer: s.peerId }) : t('inspector.timeline.to', { peer: s.peerId })
    const what =
      s.kind === 'description'
        ? (s.sdpType ?? 'description')
        : s.kind === 'candidate'
          ? t('inspector.timeline.candidate', { type: s.candidateType ?? '?', protocol: s.protocol ?? '?' })
          : t('inspector.timeline.endOfCandidates')
    return `${arrow} ${what} · session ${s.session}${s.ack !== null ? ` ack ${s.ack}` : ''}`
  }
  return `${entry.event}${entry.summary ? ` ${entry.summary}` : ''}`
}

function stateText(value: StateValue): string {
  if (typeof value === 'string') return value
  return Object.entries(value)
    .map(([key, child]) => (typeof child === 'string' ? `${key}.${child}` : child ? `${key}.{${stateText(child)}}` : key))
    .join(', ')
}

// Worst first: a pair is as its worse side says; relayed is connected, through the TURN server.
const PAIR_TAGS = ['failed', 'reconnecting', 'connecting', 'relayed', 'connected'] as const
type PairTag = (typeof PAIR_TAGS)[number] | 'unknown'

/** Each participant's own word on its pairs, from the presence in the roster (`links`). */
function rosterLinks(context: unknown): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  const roster = typeof context === 'object' && context !== null && 'roster' in context ? context.roster : undefined
  if (typeof roster !== 'object' || roster === null) return out
  for (const [id, presence] of Object.entries(roster)) {
    const links = typeof presence === 'object' && presence !== null && 'links' in presence ? presence.links : undefined
    if (typeof links !== 'object' || links === null) continue
    out[id] = {}
    for (const [other, link] of Object.entries(links)) {
      if (typeof link === 'object' && link !== null && 'state' in link && typeof link.state === 'string') out[id][other] = link.state
    }
  }
  return out
}

/** This participant's own shared links, from its presence in the room's context. */
function ownPresenceLinks(context: unknown): Record<string, string> | null {
  const presence = typeof context === 'object' && context !== null && 'presence' in context ? context.presence : undefined
  return presence ? (rosterLinks({ roster: { self: presence } }).self ?? null) : null
}

/** The worse of two sides' words on a pair (a pair is only as good as its worse side). */
function worse(a: string | undefined, b: string | undefined): PairTag {
  const known = [a, b].filter((t): t is PairTag => PAIR_TAGS.includes(t as (typeof PAIR_TAGS)[number]))
  return PAIR_TAGS.find((t) => known.includes(t)) ?? 'unknown'
}

/**
 * The whole mesh, N×N: one node per participant on a circle, one edge per
 * pair. This participant's pairs come from its own peer machines; the pairs
 * between the others from what each of them shares in its presence.
 */
function MeshOverview({ data, states }: { data: InspectorData; states: Record<string, StateEntry> }) {
  const { t } = useTranslation()
  const peers = data.actors.filter((a) => a.kind === 'peer')
  const names = rosterNames(states.room?.context)
  const links = rosterLinks(states.room?.context)
  const ownLinks = ownPresenceLinks(states.room?.context)
  if (data.selfId && ownLinks) links[data.selfId] = ownLinks
  const size = 240
  const radius = 90
  const center = size / 2
  const selfId = data.selfId ?? 'you'
  const ids = [selfId, ...peers.map((p) => p.label)]
  const nodes = ids.map((id, i) => {
    const angle = (2 * Math.PI * i) / ids.length - Math.PI / 2
    const label = id === selfId ? t('inspector.mesh.self', { name: names[selfId] ?? t('inspector.mesh.you') }) : (names[id] ?? id)
    return { id, label, x: center + radius * Math.cos(angle), y: center + radius * Math.sin(angle) }
  })
  const edges = nodes.flatMap((a, i) =>
    nodes.slice(i + 1).map((b) => {
      // Our own pairs: as we share them (a known failure counts as failed), else as the peer machine's tags say.
      const own = (peer: string) => {
        const shared = links[selfId]?.[peer]
        if (shared) return worse(shared, undefined)
        const tags = states[peer]?.tags ?? []
        return PAIR_TAGS.find((t) => tags.includes(t)) ?? 'unknown'
      }
      const tag: PairTag = a.id === selfId ? own(b.id) : worse(links[a.id]?.[b.id], links[b.id]?.[a.id])
      return { a, b, tag, key: [a.id, b.id].sort().join('~') }
    }),
  )
  return (
    <svg viewBox={`0 0 ${size} ${size}`} role="img" aria-label={t('inspector.mesh.figure', { count: nodes.length })} className="mesh-svg">
      {edges.map(({ a, b, tag, key }) => (
        <line key={key} x1={a.x} y1={a.y} x2={b.x} y2={b.y} className={`pair ${tag}`} data-pair={key} data-state={tag}>
          <title>{t('inspector.mesh.pair', { a: a.label, b: b.label, state: tag })}</title>
        </line>
      ))}
      {nodes.map((node) => (
        <g key={node.id} transform={`translate(${node.x},${node.y})`}>
          <circle r={14} className="participant" />
          <text y={28} textAnchor="middle">
            {node.label.slice(0, 14)}
          </text>
        </g>
      ))}
    </svg>
  )
}

/**
 * The pair's safety code from its descriptions (`machines/safetyCode.ts`):
 * the same on the other participant's inspector unless someone sits in the
 * middle.
 */
function SafetyCodeLine({ room, local, remote }: { room: string | null; local: string | null; remote: string | null }) {
  const { t } = useTranslation()
  const [code, setCode] = useState<string | null>(null)
  useEffect(() => {
    let current = true
    void (room === null ? Promise.resolve(null) : safetyCode(room, local, remote)).then((next) => current && setCode(next))
    return () => {
      current = false
    }
  }, [room, local, remote])
  return (
    <p className="safety-line" data-testid="inspector-safety-code">
      {t('inspector.sdp.safetyCode')} <code>{code ?? t('inspector.sdp.notNegotiated')}</code>
    </p>
  )
}

function roomOf(context: unknown): string | null {
  return typeof context === 'object' && context !== null && 'room' in context && typeof context.room === 'string' ? context.room : null
}

function rosterNames(context: unknown): Record<string, string> {
  const names: Record<string, string> = {}
  if (typeof context !== 'object' || context === null) return names
  const roster = 'roster' in context ? context.roster : undefined
  const selfId = 'selfId' in context ? context.selfId : undefined
  const presence = 'presence' in context ? context.presence : undefined
  if (typeof roster === 'object' && roster !== null) {
    for (const [id, p] of Object.entries(roster)) {
      if (typeof p === 'object' && p !== null && 'name' in p && typeof p.name === 'string') names[id] = p.name
    }
  }
  if (
    typeof selfId === 'string' &&
    typeof presence === 'object' &&
    presence !== null &&
    'name' in presence &&
    typeof presence.name === 'string'
  ) {
    names[selfId] = presence.name
  }
  return names
}
