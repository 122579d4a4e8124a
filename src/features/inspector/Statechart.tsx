import { useEffect, useId, useMemo, useReducer } from 'react'
import { useTranslation } from 'react-i18next'
import type { AnyStateMachine, StateValue } from 'xstate'
import { activeStateIds, machineGraph, takenEdgeIds, type ChartNode, type TakenTransition } from '../../../machines/inspect/graph'
import { HEADER, INITIAL_MARK, LINE, PAD_X, edgeText, layoutStatechart, type ChartLayout, type StateBox } from './statechartLayout'
import { usePanZoom } from './usePanZoom'
import './statechart.css'

export type StatechartProps = {
  machine: AnyStateMachine
  /** Which actor of the machine this chart shows (a peer id, `room`, …). */
  actorId: string
  /** The actor's snapshot value; its states are highlighted. */
  value: StateValue
  /** The step into `value`; its edges are animated. */
  lastTransition?: TakenTransition | null
  title?: string
}

type Settled = { layout: ChartLayout } | { error: string }

const pending = new WeakMap<AnyStateMachine, Promise<ChartLayout>>()
const settled = new WeakMap<AnyStateMachine, Settled>()

/** One layout per machine definition, shared by every chart of it. */
function layoutOf(machine: AnyStateMachine): Promise<ChartLayout> {
  let promise = pending.get(machine)
  if (!promise) {
    promise = computeLayout(machine)
    pending.set(machine, promise)
    promise.then(
      (layout) => settled.set(machine, { layout }),
      (error: unknown) => settled.set(machine, { error: error instanceof Error ? error.message : String(error) }),
    )
  }
  return promise
}

// Async, so that a machine machineGraph cannot read rejects, and shows as an
// error, instead of throwing in the effect.
async function computeLayout(machine: AnyStateMachine): Promise<ChartLayout> {
  return layoutStatechart(machineGraph(machine))
}

function useLayout(machine: AnyStateMachine): Settled | null {
  const [, rerender] = useReducer((n: number) => n + 1, 0)
  useEffect(() => {
    if (settled.has(machine)) return
    let live = true
    const done = () => {
      if (live) rerender()
    }
    layoutOf(machine).then(done, done)
    return () => {
      live = false
    }
  }, [machine])
  return settled.get(machine) ?? null
}

/**
 * A machine's statechart, laid out by ELK, with the states of `value`
 * highlighted and the edges of `lastTransition` animated. The layout is
 * computed once per machine definition; until it is ready the figure shows a
 * placeholder. Ctrl/⌘ + wheel zooms, the wheel or a drag pans when zoomed in.
 *
 * @example
 * <Statechart machine={peerMachine} actorId={peerId} value={snapshot.value} />
 */
export function Statechart({ machine, actorId, value, lastTransition = null, title }: StatechartProps) {
  const { t } = useTranslation()
  const result = useLayout(machine)
  const name = title ?? machine.id
  const active = useMemo((): { ids: string[]; error: string | null } => {
    try {
      return { ids: activeStateIds(machine, value), error: null }
    } catch (error) {
      return { ids: [], error: error instanceof Error ? error.message : String(error) }
    }
  }, [machine, value])

  return (
    <figure data-testid="statechart" data-actor={actorId} className="statechart">
      <figcaption className="statechart__title">{name}</figcaption>
      {result === null ? (
        <p className="statechart__placeholder" role="status">
          {t('inspector.statechart.layingOut')}
        </p>
      ) : 'error' in result ? (
        <p className="statechart__error" role="alert">
          {t('inspector.statechart.failed', { error: result.error })}
        </p>
      ) : (
        <Chart layout={result.layout} name={name} activeIds={active.ids} lastTransition={lastTransition} />
      )}
      {active.error && (
        <p className="statechart__error" role="alert">
          {active.error}
        </p>
      )}
      <ul className="visually-hidden" aria-label={t('inspector.statechart.activeStates', { name })}>
        {active.ids.map((id) => (
          <li key={id}>{id}</li>
        ))}
      </ul>
    </figure>
  )
}

const ZOOM_STEP = 1.25

function Chart({
  layout,
  name,
  activeIds,
  lastTransition,
}: {
  layout: ChartLayout
  name: string
  activeIds: string[]
  lastTransition: TakenTransition | null
}) {
  const { t } = useTranslation()
  const markerId = `statechart-arrow-${useId().replace(/[^\w-]/g, '')}`
  const { svgRef, view, zoom, fit, pointerHandlers } = usePanZoom(layout)

  const activeSet = new Set(activeIds)
  const taken = new Set(lastTransition ? takenEdgeIds(layout, lastTransition, activeIds) : [])
  const parents = new Map(layout.states.map((s) => [s.node.id, s.node]))
  const leaves = activeIds.filter((id) => !activeIds.some((other) => parents.get(other)?.parentId === id))
  const root = layout.states[0]?.node.id ?? ''
  const summary = t('inspector.statechart.summary', {
    name,
    states: leaves.map((id) => id.slice(root.length + 1) || id).join(', ') || t('inspector.statechart.none'),
  })

  return (
    <div className="statechart__frame">
      <div className="statechart__zoom" role="group" aria-label={t('inspector.statechart.zoom')}>
        <button type="button" onClick={() => zoom(ZOOM_STEP)} aria-label={t('inspector.statechart.zoomIn')}>
          +
        </button>
        <button type="button" onClick={() => zoom(1 / ZOOM_STEP)} aria-label={t('inspector.statechart.zoomOut')}>
          −
        </button>
        <button type="button" onClick={fit} aria-label={t('inspector.statechart.fitLabel')} disabled={view.width >= layout.width}>
          {t('inspector.statechart.fit')}
        </button>
      </div>
      <svg
        ref={svgRef}
        className="statechart__svg"
        viewBox={`${view.x} ${view.y} ${view.width} ${view.height}`}
        role="img"
        aria-label={summary}
        data-layout-ms={Math.round(layout.ms)}
        data-zoomed={view.width < layout.width ? 'true' : undefined}
        {...pointerHandlers}
      >
        <defs>
          <marker id={markerId} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" className="statechart__arrowhead" />
          </marker>
          <marker
            id={`${markerId}-taken`}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M0,0 L10,5 L0,10 z" className="statechart__arrowhead statechart__arrowhead--taken" />
          </marker>
        </defs>
        {layout.states.map((box) => (
          <State
            key={box.node.id}
            box={box}
            active={activeSet.has(box.node.id)}
            leaf={leaves.includes(box.node.id)}
            parent={box.node.parentId === null ? null : (parents.get(box.node.parentId) ?? null)}
            taken={taken}
          />
        ))}
        {/* Taken edges last, so they draw over the others. */}
        {[...layout.routes]
          .sort((a, b) => Number(taken.has(a.edge.id)) - Number(taken.has(b.edge.id)))
          .map((route) => {
            const isTaken = taken.has(route.edge.id)
            return (
              <g
                key={route.id}
                data-edge-id={route.edge.id}
                className={isTaken ? 'statechart__edge statechart__edge--taken' : 'statechart__edge'}
              >
                <path d={route.path} markerEnd={`url(#${isTaken ? `${markerId}-taken` : markerId})`} />
                {route.label && (
                  <>
                    <rect x={route.label.x} y={route.label.y} width={route.label.width} height={route.label.height} rx={3} />
                    <text x={route.label.x + 2} y={route.label.y + route.label.height - 3.5}>
                      {route.label.text}
                    </text>
                  </>
                )}
              </g>
            )
          })}
      </svg>
    </div>
  )
}

function State({
  box,
  active,
  leaf,
  parent,
  taken,
}: {
  box: StateBox
  active: boolean
  leaf: boolean
  parent: ChartNode | null
  taken: ReadonlySet<string>
}) {
  const { node, x, y, width, height } = box
  const initial = parent?.initial === node.id
  const className = [
    'statechart__state',
    `statechart__state--${node.type}`,
    parent?.type === 'parallel' && 'statechart__state--region',
    active && 'statechart__state--active',
    active && leaf && 'statechart__state--current',
  ]
    .filter(Boolean)
    .join(' ')
  let line = y + HEADER - 8
  const next = () => (line += LINE)
  return (
    <g data-state-id={node.id} data-active={active ? 'true' : undefined} className={className}>
      <rect className="statechart__box" x={x} y={y} width={width} height={height} rx={node.type === 'history' ? height / 2 : 6} />
      {node.type === 'final' && <rect className="statechart__box-inner" x={x + 3} y={y + 3} width={width - 6} height={height - 6} rx={4} />}
      {/* Inside the box: with the layout running left to right, a dot outside would sit among incoming edges. */}
      {initial && <circle className="statechart__initial" cx={x + PAD_X + 3} cy={line - 4} r={3.5} />}
      <text className="statechart__key" x={x + PAD_X + (initial ? INITIAL_MARK : 0)} y={line}>
        {node.key}
      </text>
      {node.tags.length > 0 && (
        <text className="statechart__tags" x={x + PAD_X} y={next()}>
          {node.tags.join(' ')}
        </text>
      )}
      {box.rows.map((edge) => (
        <text
          key={edge.id}
          data-edge-id={edge.id}
          className={taken.has(edge.id) ? 'statechart__row statechart__row--taken' : 'statechart__row'}
          x={x + PAD_X}
          y={next()}
        >
          {edgeText(edge)}
        </text>
      ))}
    </g>
  )
}
