/**
 * Which states and transitions of a machine definition the actors of a test
 * run went through, from XState's inspection API: every `@xstate.microstep`
 * names the transitions it took (`_transitions`, the definition's own
 * transition objects) and the snapshot it reached.
 *
 * @example
 * const coverage = createCoverage(peerMachine)
 * createPeerPair({ …, inspect: coverage.inspect('libwebrtc') })
 * // … run the test …
 * console.log(formatCoverage(coverage.result(), allowList))
 */
import { isMachineSnapshot, type AnyStateMachine, type AnyStateNode, type AnyTransitionDefinition, type InspectionEvent } from 'xstate'
import { activeStateIds, guardLabel } from '../../machines/inspect/graph'

/** One transition of the definition; the guarded alternatives of one event are separate. */
export type Transition = {
  /** `<source> · <event> [<guard>]`, the source relative to the machine, e.g. `active.negotiation.stable · pc.negotiationNeeded`. */
  id: string
  source: string
  event: string
  guard: string | null
  targets: string[]
}

/** Transitions covered, with the runs (backends) that covered each. */
export type CoverageResult = {
  states: { all: string[]; covered: Map<string, Set<string>> }
  transitions: { all: Transition[]; covered: Map<string, Set<string>> }
}

const AFTER = 'xstate.after.'
const DONE_ACTOR = 'xstate.done.actor.'
const ERROR_ACTOR = 'xstate.error.actor.'

function* walk(stateNode: AnyStateNode): Generator<AnyStateNode> {
  yield stateNode
  for (const child of Object.values(stateNode.states)) yield* walk(child)
}

/** A state node's id without the machine id: `active.negotiation.stable`; the root is `(root)`. */
function relative(machine: AnyStateMachine, id: string): string {
  return id === machine.id ? '(root)' : id.slice(machine.id.length + 1)
}

/** The event a transition waits for, as a person reads it: `after answerTimeout`, `done: setLocalDescription`. */
function eventLabel(stateNode: AnyStateNode, transition: AnyTransitionDefinition): string {
  const type = transition.eventType
  if (type === '') return 'always'
  if (type.startsWith(AFTER)) {
    const delayed = stateNode.after.find((after) => after.eventType === type)
    return `after ${String(delayed?.delay ?? type.slice(AFTER.length))}`
  }
  for (const [prefix, label] of [
    [DONE_ACTOR, 'done'],
    [ERROR_ACTOR, 'error'],
  ] as const) {
    if (type.startsWith(prefix)) {
      const invoke = stateNode.invoke.find((definition) => definition.id === type.slice(prefix.length))
      return `${label}: ${typeof invoke?.src === 'string' ? invoke.src : type.slice(prefix.length)}`
    }
  }
  return type
}

/** The states and transitions of a machine definition, walked from `machine.root`. */
export function machineTransitions(machine: AnyStateMachine): {
  states: string[]
  transitions: (Transition & { definition: AnyTransitionDefinition })[]
} {
  const states: string[] = []
  const transitions: (Transition & { definition: AnyTransitionDefinition })[] = []
  for (const stateNode of walk(machine.root)) {
    states.push(relative(machine, stateNode.id))
    const definitions: AnyTransitionDefinition[] = [...stateNode.transitions.values()].flat()
    if (stateNode.always) definitions.push(...stateNode.always)
    for (const definition of definitions) {
      const source = relative(machine, stateNode.id)
      const event = eventLabel(stateNode, definition)
      const guard = guardLabel(definition.guard)
      transitions.push({
        id: `${source} · ${event}${guard ? ` [${guard}]` : ''}`,
        source,
        event,
        guard,
        targets: (definition.target ?? []).map((target) => relative(machine, target.id)),
        definition,
      })
    }
  }
  const ids = new Set(transitions.map((t) => t.id))
  if (ids.size !== transitions.length) throw new Error('two transitions of the machine have the same source, event and guard')
  return { states, transitions }
}

/**
 * A coverage recorder for one machine definition. `inspect(run)` is an
 * inspection callback for `createActor` (or anything that passes one on);
 * every actor of that machine in the system is recorded, under `run`.
 */
export function createCoverage(machine: AnyStateMachine) {
  const { states, transitions } = machineTransitions(machine)
  const byDefinition = new Map(transitions.map((t) => [t.definition, t.id]))
  const coveredStates = new Map<string, Set<string>>()
  const coveredTransitions = new Map<string, Set<string>>()
  const mark = (map: Map<string, Set<string>>, id: string, run: string) => {
    const runs = map.get(id) ?? new Set<string>()
    runs.add(run)
    map.set(id, runs)
  }

  return {
    inspect(run: string) {
      return (event: InspectionEvent) => {
        if (event.type !== '@xstate.microstep' && event.type !== '@xstate.snapshot') return
        const { snapshot } = event
        if (!isMachineSnapshot(snapshot) || snapshot.machine !== machine) return
        // A microstep's snapshot shows transient states too (`restarting`
        // before its `always`), which the actor's settled snapshots never do.
        for (const id of activeStateIds(machine, snapshot.value)) mark(coveredStates, relative(machine, id), run)
        if (event.type !== '@xstate.microstep') return
        for (const definition of event._transitions) {
          const id = byDefinition.get(definition)
          if (id === undefined) continue
          mark(coveredTransitions, id, run)
          mark(coveredStates, relative(machine, definition.source.id), run)
        }
      }
    },
    result(): CoverageResult {
      return {
        states: { all: states, covered: coveredStates },
        transitions: { all: transitions.map(({ definition: _, ...t }) => t), covered: coveredTransitions },
      }
    },
  }
}

/** The states and transition ids of the definition that no run covered. */
export function uncovered(result: CoverageResult): { states: string[]; transitions: string[] } {
  return {
    states: result.states.all.filter((s) => !result.states.covered.has(s)),
    transitions: result.transitions.all.filter((t) => !result.transitions.covered.has(t.id)).map((t) => t.id),
  }
}

/** Why a state or transition is not covered: what it needs, and where it is tested instead. */
export type AllowList = Record<string, string>

/**
 * The report: states and transitions covered, by run; each uncovered one
 * with its reason from the allow-list (or `NOT ALLOWED`); and allow-list
 * entries that were covered after all.
 */
export function formatCoverage(result: CoverageResult, allowed: { states: AllowList; transitions: AllowList }): string {
  const { states, transitions } = result
  const missing = uncovered(result)
  const runs = [...new Set([...transitions.covered.values()].flatMap((r) => [...r]))].sort()
  const percent = (n: number, of: number) => `${n}/${of} (${Math.round((100 * n) / of)}%)`
  const reachable = states.all.filter((s) => !(s in allowed.states)).length
  const lines = [
    `states covered: ${percent(states.covered.size, states.all.length)}; of those reachable here: ${percent(
      states.all.filter((s) => !(s in allowed.states) && states.covered.has(s)).length,
      reachable,
    )}`,
    `transitions covered: ${percent(transitions.covered.size, transitions.all.length)}`,
  ]
  for (const run of runs) {
    const count = [...transitions.covered.values()].filter((r) => r.has(run)).length
    const only = [...transitions.covered.values()].filter((r) => r.has(run) && r.size === 1).length
    lines.push(`  on ${run}: ${count} (${only} only there)`)
  }
  lines.push('', `uncovered states (${missing.states.length}):`)
  for (const state of missing.states) lines.push(`  ${state}`, `      ${allowed.states[state] ?? 'NOT ALLOWED: no reason given'}`)
  lines.push('', `uncovered transitions (${missing.transitions.length}):`)
  for (const t of transitions.all.filter((t) => missing.transitions.includes(t.id))) {
    lines.push(`  ${t.id}${t.targets.length ? ` → ${t.targets.join(', ')}` : ''}`)
    lines.push(`      ${allowed.transitions[t.id] ?? 'NOT ALLOWED: no reason given'}`)
  }
  const coveredAnyway = [
    ...Object.keys(allowed.states).filter((s) => states.covered.has(s)),
    ...Object.keys(allowed.transitions).filter((t) => transitions.covered.has(t)),
  ]
  if (coveredAnyway.length > 0) {
    lines.push('', 'listed as uncovered, but covered in this run:', ...coveredAnyway.map((id) => `  ${id}`))
  }
  if (runs.length > 1) {
    lines.push('', 'transitions covered on one backend only:')
    for (const t of transitions.all) {
      const covered = transitions.covered.get(t.id)
      if (covered?.size === 1) lines.push(`  [${[...covered][0]}] ${t.id}`)
    }
  }
  return lines.join('\n')
}
