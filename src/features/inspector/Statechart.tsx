import ELK from 'elkjs/lib/elk.bundled.js'
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api'
import { useEffect, useId, useMemo, useReducer, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react'
import type { AnyStateMachine, StateValue } from 'xstate'
import {
  activeStateIds,
  machineGraph,
  takenEdgeIds,
  type ChartEdge,
  type ChartNode,
  type TakenTransition,
} from '../../../machines/inspect/graph'
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

type Box = { x: number; y: number; width: number; height: number }
type StateBox = Box & { node: ChartNode; rows: ChartEdge[] }
type Route = { id: string; edge: ChartEdge; path: string; label: (Box & { text: string }) | null }
type ChartLayout = {
  width: number
  height: number
  states: StateBox[]
  routes: Route[]
  edges: ChartEdge[]
  /** How long ELK took, in ms. */
  ms: number
}
type Settled = { layout: ChartLayout } | { error: string }

// Text is drawn in a monospace font (see statechart.css), so widths can be
// estimated from character counts: jsdom has no getBBox, and measuring in the
// browser would force a layout per label.
const KEY_FONT = 12
const LABEL_FONT = 11
const CHAR_EM = 0.62
const LINE = 14
const PAD_X = 8
const HEADER = 24
/** Room for the initial-state dot before a key. */
const INITIAL_MARK = 10

const textWidth = (text: string, font: number) => Math.ceil(text.length * font * CHAR_EM)
const edgeText = (edge: ChartEdge) => (edge.guard ? `${edge.event} [${edge.guard}]` : edge.event)

const elk = new ELK({
  defaultLayoutOptions: {
    'elk.algorithm': 'layered',
    'elk.direction': 'RIGHT',
    'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
    'elk.edgeRouting': 'ORTHOGONAL',
    // Not elk.layered.considerModelOrder: with INCLUDE_CHILDREN it crashes
    // ELK 0.12 ("Cannot read properties of undefined").
    'elk.spacing.nodeNode': '24',
    'elk.layered.spacing.nodeNodeBetweenLayers': '32',
    'elk.spacing.edgeLabel': '2',
    'elk.spacing.edgeNode': '12',
    // Every coordinate relative to the root, so shapes and routes draw flat.
    'elk.json.shapeCoords': 'ROOT',
    'elk.json.edgeCoords': 'ROOT',
  },
})

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

async function computeLayout(machine: AnyStateMachine): Promise<ChartLayout> {
  const { nodes, edges } = machineGraph(machine)
  // Targetless transitions are listed inside their state, as UML's internal
  // transitions: drawn as self-loops they would double the edges to route.
  const rows = new Map<string, ChartEdge[]>()
  for (const edge of edges) {
    if (edge.targets.length === 0) rows.set(edge.source, [...(rows.get(edge.source) ?? []), edge])
  }
  const initials = new Set(nodes.map((node) => node.initial))
  const elkNodes = new Map<string, ElkNode>()
  let root: ElkNode | null = null
  for (const node of nodes) {
    const own = rows.get(node.id) ?? []
    const header = HEADER + (node.tags.length > 0 ? LINE : 0) + own.length * LINE
    const width = Math.max(
      56,
      textWidth(node.key, KEY_FONT) + 2 * PAD_X + (initials.has(node.id) ? INITIAL_MARK : 0),
      textWidth(node.tags.join(' '), LABEL_FONT) + 2 * PAD_X,
      ...own.map((edge) => textWidth(edgeText(edge), LABEL_FONT) + 2 * PAD_X),
    )
    const elkNode: ElkNode =
      node.type === 'compound' || node.type === 'parallel'
        ? {
            id: node.id,
            children: [],
            layoutOptions: {
              'elk.padding': `[top=${header + 8},left=16,bottom=12,right=12]`,
              'elk.nodeSize.constraints': 'MINIMUM_SIZE',
              'elk.nodeSize.minimum': `(${width}, ${header + 8})`,
            },
          }
        : { id: node.id, width, height: header + 4 }
    elkNodes.set(node.id, elkNode)
    const parent = node.parentId === null ? undefined : elkNodes.get(node.parentId)
    if (parent) parent.children?.push(elkNode)
    else root = elkNode
  }
  const elkEdges: ElkExtendedEdge[] = edges.flatMap((edge) =>
    edge.targets.map((target, index) => ({
      id: `${edge.id}#${index}`,
      sources: [edge.source],
      targets: [target],
      labels: index === 0 ? [{ text: edgeText(edge), width: textWidth(edgeText(edge), LABEL_FONT) + 4, height: LINE }] : [],
    })),
  )

  const started = performance.now()
  const graph: ElkNode = {
    id: '__statechart',
    layoutOptions: { 'elk.padding': '[top=8,left=8,bottom=8,right=8]' },
    children: root ? [root] : [],
    edges: elkEdges,
  }
  const result = await elk.layout(graph)
  const ms = performance.now() - started

  const boxes = new Map<string, Box>()
  const collect = (node: ElkNode) => {
    boxes.set(node.id, { x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0 })
    for (const child of node.children ?? []) collect(child)
  }
  for (const child of result.children ?? []) collect(child)

  const byId = new Map(edges.map((edge) => [edge.id, edge]))
  const routes: Route[] = []
  for (const elkEdge of result.edges ?? []) {
    const edge = byId.get(elkEdge.id.slice(0, elkEdge.id.lastIndexOf('#')))
    if (!edge) continue
    const path = (elkEdge.sections ?? [])
      .map((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' '))
      .join(' ')
    const label = elkEdge.labels?.[0]
    routes.push({
      id: elkEdge.id,
      edge,
      path,
      label: label?.text
        ? { x: label.x ?? 0, y: label.y ?? 0, width: label.width ?? 0, height: label.height ?? 0, text: label.text }
        : null,
    })
  }

  return {
    width: result.width ?? 0,
    height: result.height ?? 0,
    states: nodes.map((node) => ({ node, rows: rows.get(node.id) ?? [], ...(boxes.get(node.id) ?? { x: 0, y: 0, width: 0, height: 0 }) })),
    routes,
    edges,
    ms,
  }
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
          laying out…
        </p>
      ) : 'error' in result ? (
        <p className="statechart__error" role="alert">
          The chart could not be laid out: {result.error}
        </p>
      ) : (
        <Chart layout={result.layout} name={name} activeIds={active.ids} lastTransition={lastTransition} />
      )}
      {active.error && (
        <p className="statechart__error" role="alert">
          {active.error}
        </p>
      )}
      <ul className="visually-hidden" aria-label={`Active states of ${name}`}>
        {active.ids.map((id) => (
          <li key={id}>{id}</li>
        ))}
      </ul>
    </figure>
  )
}

const ZOOM_STEP = 1.25
const MAX_ZOOM = 12

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
  const markerId = `statechart-arrow-${useId().replace(/[^\w-]/g, '')}`
  const full: Box = { x: 0, y: 0, width: layout.width, height: layout.height }
  // The zoom belongs to one layout: another machine starts fitted.
  const [zoomed, setZoomed] = useState<{ layout: ChartLayout; box: Box } | null>(null)
  const zoomedRef = useRef(zoomed)
  const view = zoomed?.layout === layout ? zoomed.box : full
  const currentView = () => (zoomedRef.current?.layout === layout ? zoomedRef.current.box : full)
  const svgRef = useRef<SVGSVGElement>(null)
  const drag = useRef<{ x: number; y: number; view: Box } | null>(null)

  const show = (next: Box) => {
    zoomedRef.current = { layout, box: next }
    setZoomed(zoomedRef.current)
  }
  const zoom = (factor: number, fx = 0.5, fy = 0.5) => {
    const current = currentView()
    const width = Math.min(layout.width, Math.max(layout.width / MAX_ZOOM, current.width / factor))
    const height = (width / layout.width) * layout.height
    show(clamp(layout, { x: current.x + (current.width - width) * fx, y: current.y + (current.height - height) * fy, width, height }))
  }

  useEffect(() => {
    const svg = svgRef.current
    if (!svg) return
    const onWheel = (event: WheelEvent) => {
      const current = currentView()
      const rect = svg.getBoundingClientRect()
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault()
        const fx = rect.width ? (event.clientX - rect.left) / rect.width : 0.5
        const fy = rect.height ? (event.clientY - rect.top) / rect.height : 0.5
        zoom(Math.exp(-event.deltaY * 0.002), fx, fy)
      } else if (current.width < layout.width) {
        // Zoomed in, the wheel pans; otherwise it scrolls the page as usual.
        event.preventDefault()
        const scale = rect.width ? current.width / rect.width : 1
        show(clamp(layout, { ...current, x: current.x + event.deltaX * scale, y: current.y + event.deltaY * scale }))
      }
    }
    svg.addEventListener('wheel', onWheel, { passive: false })
    return () => svg.removeEventListener('wheel', onWheel)
  })

  const onPointerDown = (event: ReactPointerEvent<SVGSVGElement>) => {
    if (currentView().width >= layout.width) return
    drag.current = { x: event.clientX, y: event.clientY, view: currentView() }
    event.currentTarget.setPointerCapture(event.pointerId)
  }
  const onPointerMove = (event: ReactPointerEvent<SVGSVGElement>) => {
    const start = drag.current
    if (!start) return
    const rect = event.currentTarget.getBoundingClientRect()
    const scale = rect.width ? start.view.width / rect.width : 1
    show(
      clamp(layout, {
        ...start.view,
        x: start.view.x - (event.clientX - start.x) * scale,
        y: start.view.y - (event.clientY - start.y) * scale,
      }),
    )
  }
  const endDrag = () => {
    drag.current = null
  }

  const activeSet = new Set(activeIds)
  const taken = new Set(lastTransition ? takenEdgeIds(layout, lastTransition, activeIds) : [])
  const parents = new Map(layout.states.map((s) => [s.node.id, s.node]))
  const leaves = activeIds.filter((id) => !activeIds.some((other) => parents.get(other)?.parentId === id))
  const root = layout.states[0]?.node.id ?? ''
  const summary = `${name} statechart; active: ${leaves.map((id) => id.slice(root.length + 1) || id).join(', ') || 'none'}`

  return (
    <div className="statechart__frame">
      <div className="statechart__zoom" role="group" aria-label="Zoom">
        <button type="button" onClick={() => zoom(ZOOM_STEP)} aria-label="Zoom in">
          +
        </button>
        <button type="button" onClick={() => zoom(1 / ZOOM_STEP)} aria-label="Zoom out">
          −
        </button>
        <button type="button" onClick={() => show(full)} aria-label="Fit to view" disabled={view.width >= layout.width}>
          fit
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
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={endDrag}
        onPointerCancel={endDrag}
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

function clamp(layout: ChartLayout, view: Box): Box {
  return {
    ...view,
    x: Math.min(Math.max(0, view.x), layout.width - view.width),
    y: Math.min(Math.max(0, view.y), layout.height - view.height),
  }
}
