import { and, not, or, stateIn, type AnyStateMachine, type AnyStateNode, type StateValue } from 'xstate'

/** One state node of a machine, flattened for drawing. */
export type ChartNode = {
  /** The XState state node id, e.g. `peer.active.negotiation.stable`; the root's is the machine id. */
  id: string
  key: string
  parentId: string | null
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history'
  /** Id of the initial child of a compound state. */
  initial: string | null
  tags: string[]
  /** 0 for the root. */
  depth: number
}

/** One transition definition; guarded alternatives of one event are separate edges. */
export type ChartEdge = {
  id: string
  source: string
  /** Target state ids; empty for a transition that only runs actions. */
  targets: string[]
  /**
   * The event as a person reads it: the event type (`signal.*` included),
   * `always`, `after <delay>`, `done: <actor src>`, `error: <actor src>`,
   * or `done` for a compound state reaching its final state.
   */
  event: string
  guard: string | null
  reenter: boolean
  /** The delay of an `after` transition: milliseconds or the name of a `delays` entry. */
  delay: string | null
}

type TransitionLike = {
  eventType: string
  guard?: unknown
  target?: ReadonlyArray<{ id: string }> | undefined
  reenter: boolean
}

const AFTER = 'xstate.after.'
const DONE_ACTOR = 'xstate.done.actor.'
const ERROR_ACTOR = 'xstate.error.actor.'
const DONE_STATE = 'xstate.done.state.'

/**
 * The states and transitions of a machine definition, read from its public
 * StateNode tree (`root`, `states`, `transitions`, `always`, `after`, `invoke`).
 * Nodes come parents first, in document order.
 *
 * @example
 * const { nodes, edges } = machineGraph(peerMachine)
 * edges.filter((e) => e.event === 'remote.description').map((e) => e.guard)
 * // ['isUnexpectedAnswer', 'isStaleOffer', 'mustIgnoreOffer', 'isOffer', null]
 */
export function machineGraph(machine: AnyStateMachine): { nodes: ChartNode[]; edges: ChartEdge[] } {
  const nodes: ChartNode[] = []
  const edges: ChartEdge[] = []
  for (const stateNode of walk(machine.root)) {
    nodes.push({
      id: stateNode.id,
      key: stateNode.key,
      parentId: stateNode.parent?.id ?? null,
      type: stateNode.type,
      initial: stateNode.type === 'compound' ? (stateNode.initial.target[0]?.id ?? null) : null,
      tags: [...stateNode.tags],
      depth: stateNode.path.length,
    })
    edges.push(...edgesOf(stateNode))
  }
  return { nodes, edges }
}

/**
 * The ids of every state node active in a snapshot value, ancestors (and the
 * root) included, parents before children. A compound state named without a
 * child counts with its initial descendants, as the machine would enter it.
 *
 * @example
 * activeStateIds(peerMachine, { active: { negotiation: 'stable', connection: 'connected', channel: 'open' } })
 * // ['peer', 'peer.active', 'peer.active.negotiation', 'peer.active.negotiation.stable', ...]
 */
export function activeStateIds(machine: AnyStateMachine, value: StateValue): string[] {
  const ids: string[] = []
  const enter = (stateNode: AnyStateNode, value: StateValue | undefined): void => {
    ids.push(stateNode.id)
    if (stateNode.type === 'parallel') {
      for (const [key, region] of Object.entries(stateNode.states)) {
        enter(region, typeof value === 'object' ? value[key] : undefined)
      }
    } else if (stateNode.type === 'compound') {
      const entries: [string, StateValue | undefined][] =
        typeof value === 'string' ? [[value, undefined]] : value ? Object.entries(value) : []
      if (entries.length === 0) {
        for (const initial of stateNode.initial.target) enter(initial, undefined)
        return
      }
      for (const [key, child] of entries) {
        const childNode = stateNode.states[key]
        if (!childNode) throw new Error(`"${key}" is not a state of ${stateNode.id}`)
        enter(childNode, child)
      }
    }
  }
  enter(machine.root, value)
  return ids
}

/**
 * Whether an edge is the one an event took. `eventType` may be the edge's own
 * label, the transition's event descriptor (`signal.*`, `xstate.after.3000.room.joining`,
 * `''` for `always`), or the concrete event (`signal.description`,
 * `xstate.done.actor.0.peer.active.negotiation.makingOffer`).
 */
export function edgeMatchesEvent(edge: ChartEdge, eventType: string): boolean {
  if (edge.event === eventType) return true
  if (edge.event === 'always') return eventType === ''
  if (edge.delay !== null) return eventType === `${AFTER}${edge.delay}.${edge.source}`
  if (edge.event.startsWith('done: ')) return eventType.startsWith(DONE_ACTOR)
  if (edge.event.startsWith('error: ')) return eventType.startsWith(ERROR_ACTOR)
  if (edge.event === 'done') return eventType === `${DONE_STATE}${edge.source}`
  if (edge.event === '*') return true
  return edge.event.endsWith('.*') && eventType.startsWith(edge.event.slice(0, -1))
}

/** A step between two snapshots: the states it left and entered, and the event the actor took. */
export type TakenTransition = { sourceIds: string[]; targetIds: string[]; event: string }

/**
 * The edges that most likely made a step, for highlighting. Snapshots do not
 * say which transition fired, so this picks the edges whose targets were all
 * entered from a source that was active, preferring those whose event matches
 * (an `always` or `after` step often follows the recorded event). When a
 * transient state was passed through (entered, then left by `always` in the
 * same step), both hops are returned. A step that entered nothing ran a
 * targetless transition of an active state.
 */
export function takenEdgeIds(graph: { edges: readonly ChartEdge[] }, transition: TakenTransition, activeIds: readonly string[]): string[] {
  const exited = new Set(transition.sourceIds)
  const entered = new Set(transition.targetIds)
  const active = new Set(activeIds)
  const wasActive = (id: string) => exited.has(id) || (active.has(id) && !entered.has(id))
  const preferEvent = (edges: ChartEdge[]) => {
    const byEvent = edges.filter((edge) => edgeMatchesEvent(edge, transition.event))
    return byEvent.length > 0 ? byEvent : edges
  }
  const ids = (edges: ChartEdge[]) => edges.map((edge) => edge.id)

  if (entered.size === 0) {
    if (transition.event === '') return []
    return ids(
      graph.edges.filter((edge) => edge.targets.length === 0 && active.has(edge.source) && edgeMatchesEvent(edge, transition.event)),
    )
  }
  const targetsEntered = (edge: ChartEdge) => edge.targets.length > 0 && edge.targets.every((id) => entered.has(id))
  const direct = graph.edges.filter((edge) => targetsEntered(edge) && wasActive(edge.source))
  if (direct.length > 0) return ids(preferEvent(direct))

  const hops = graph.edges.filter((edge) => edge.event === 'always' && targetsEntered(edge) && !active.has(edge.source))
  const transient = new Set(hops.map((edge) => edge.source))
  const first = preferEvent(
    graph.edges.filter(
      (edge) =>
        wasActive(edge.source) &&
        edge.targets.some((id) => transient.has(id)) &&
        edge.targets.every((id) => transient.has(id) || entered.has(id)),
    ),
  )
  const reached = new Set(first.flatMap((edge) => edge.targets))
  return ids([...first, ...hops.filter((edge) => reached.has(edge.source))])
}

/**
 * A readable name for a transition's guard: the name of a guard from `setup`,
 * an expression for the higher-order guards (`and(isImpolite, offerCollision)`,
 * `not(stateIn(#peer.active.negotiation.makingOffer))`), or `guard` for an
 * inline function.
 */
export function guardLabel(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null
  if (typeof guard === 'string') return guard
  if (typeof guard === 'function') {
    // xstate's guard helpers return functions carrying their operands and a
    // `check` shared by every guard of the kind; comparing `check` still works
    // when a minifier has renamed the functions.
    const check = checkOf(guard)
    if (check === HELPER_CHECKS.stateIn && 'stateValue' in guard) {
      const { stateValue } = guard
      return `stateIn(${typeof stateValue === 'string' ? stateValue : JSON.stringify(stateValue)})`
    }
    for (const name of ['and', 'or', 'not'] as const) {
      if (check === HELPER_CHECKS[name] && 'guards' in guard && Array.isArray(guard.guards)) {
        return `${name}(${guard.guards.map((g: unknown) => guardLabel(g) ?? 'guard').join(', ')})`
      }
    }
    return 'guard'
  }
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type
  return 'guard'
}

const checkOf = (guard: unknown): unknown => (typeof guard === 'function' && 'check' in guard ? guard.check : undefined)

const HELPER_CHECKS = {
  and: checkOf(and([])),
  or: checkOf(or([])),
  not: checkOf(not(() => true)),
  stateIn: checkOf(stateIn('#x')),
}

function* walk(stateNode: AnyStateNode): Generator<AnyStateNode> {
  yield stateNode
  for (const child of Object.values(stateNode.states)) yield* walk(child)
}

function edgesOf(stateNode: AnyStateNode): ChartEdge[] {
  const sources = new Map<string, string>()
  for (const invoke of stateNode.invoke) {
    sources.set(invoke.id, typeof invoke.src === 'string' ? invoke.src : invoke.id)
  }
  const delays = new Map<string, string>()
  for (const after of stateNode.after) delays.set(after.eventType, String(after.delay))

  const describe = (eventType: string): { event: string; delay: string | null } => {
    const delay = delays.get(eventType)
    if (delay !== undefined) return { event: `after ${delay}`, delay }
    for (const [prefix, label] of [
      [DONE_ACTOR, 'done'],
      [ERROR_ACTOR, 'error'],
    ] as const) {
      if (eventType.startsWith(prefix)) {
        const id = eventType.slice(prefix.length)
        return { event: `${label}: ${sources.get(id) ?? id}`, delay: null }
      }
    }
    if (eventType === `${DONE_STATE}${stateNode.id}`) return { event: 'done', delay: null }
    return { event: eventType, delay: null }
  }

  const transitions: TransitionLike[] = [...stateNode.transitions.values()].flat()
  if (stateNode.always) transitions.push(...stateNode.always)
  return transitions.map((transition, index): ChartEdge => {
    const { event, delay } = transition.eventType === '' ? { event: 'always', delay: null } : describe(transition.eventType)
    return {
      id: `${stateNode.id}:${index}`,
      source: stateNode.id,
      targets: (transition.target ?? []).map((target) => target.id),
      event,
      guard: guardLabel(transition.guard),
      reenter: transition.reenter,
      delay,
    }
  })
}
