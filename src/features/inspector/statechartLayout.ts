import ELK, { type ElkExtendedEdge, type ElkNode, type LayoutOptions } from 'elkjs/lib/elk-api'
import type { ChartEdge, ChartNode } from '../../../machines/inspect/graph'

/** A machine's states and transitions, as `machineGraph` returns them: parents before their children. */
export type MachineGraph = { nodes: readonly ChartNode[]; edges: readonly ChartEdge[] }

/** A rectangle in the chart's coordinates, which start at its top left corner. */
export type Box = { x: number; y: number; width: number; height: number }

/** A state's box, with the targetless transitions listed inside it. */
export type StateBox = Box & { node: ChartNode; rows: ChartEdge[] }

/** One target of a transition: its SVG path and, on the first target only, its label's box. */
export type Route = { id: string; edge: ChartEdge; path: string; label: (Box & { text: string }) | null }

/** A laid-out statechart, every coordinate relative to the chart's top left corner. */
export type ChartLayout = {
  width: number
  height: number
  /** In the order of the graph's nodes, so the root comes first. */
  states: StateBox[]
  routes: Route[]
  edges: readonly ChartEdge[]
  /** How long ELK took, in ms. */
  ms: number
}

// Text is drawn in a monospace font (see statechart.css), so widths can be
// estimated from character counts: jsdom has no getBBox, and measuring in the
// browser would force a layout per label.
const KEY_FONT = 12
const LABEL_FONT = 11
const CHAR_EM = 0.62
/** Height of one line of text in a state: its tags, or one of its rows. */
export const LINE = 14
/** Space between a state's border and its text. */
export const PAD_X = 8
/** Height of a state's title line, its key. */
export const HEADER = 24
/** Room for the initial-state dot before a key. */
export const INITIAL_MARK = 10

const textWidth = (text: string, font: number) => Math.ceil(text.length * font * CHAR_EM)

/** How a transition is labelled: its event, and its guard in brackets. */
export const edgeText = (edge: ChartEdge) => (edge.guard ? `${edge.event} [${edge.guard}]` : edge.event)

const LAYOUT_OPTIONS: LayoutOptions = {
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
}

/**
 * ELK, made on first use. In a browser it runs in a Web Worker, so laying
 * out the charts never stalls the call's page; where there is no Worker
 * (the component tests), the bundled build runs in place.
 */
let elk: Promise<{ layout: (graph: ElkNode) => Promise<ElkNode> }> | undefined
function getElk() {
  elk ??=
    typeof Worker === 'undefined'
      ? import('elkjs/lib/elk.bundled.js').then(({ default: Bundled }) => new Bundled({ defaultLayoutOptions: LAYOUT_OPTIONS }))
      : Promise.resolve(
          new ELK({
            defaultLayoutOptions: LAYOUT_OPTIONS,
            workerFactory: () => new Worker(new URL('elkjs/lib/elk-worker.min.js', import.meta.url)),
          }),
        )
  return elk
}

/**
 * Lays a machine's graph out with ELK (layered, left to right, orthogonal
 * routes): a box for every state, sized for its key, tags and internal
 * transitions, and a route for every target of every other transition.
 * The promise rejects if ELK fails.
 *
 * @example
 * const layout = await layoutStatechart(machineGraph(peerMachine))
 * layout.states[0].node.id // 'peer'
 */
export async function layoutStatechart({ nodes, edges }: MachineGraph): Promise<ChartLayout> {
  const rows = internalRows(edges)
  const graph = elkGraph(nodes, edges, rows)

  const started = performance.now()
  const result = await (await getElk()).layout(graph)
  const ms = performance.now() - started

  const boxes = new Map<string, Box>()
  const collect = (node: ElkNode) => {
    boxes.set(node.id, { x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0 })
    for (const child of node.children ?? []) collect(child)
  }
  for (const child of result.children ?? []) collect(child)

  return {
    width: result.width ?? 0,
    height: result.height ?? 0,
    states: nodes.map((node) => ({ node, rows: rows.get(node.id) ?? [], ...(boxes.get(node.id) ?? { x: 0, y: 0, width: 0, height: 0 }) })),
    routes: routesOf(result, edges),
    edges,
    ms,
  }
}

/** Each state's targetless transitions, by state id. */
function internalRows(edges: readonly ChartEdge[]): Map<string, ChartEdge[]> {
  // Targetless transitions are listed inside their state, as UML's internal
  // transitions: drawn as self-loops they would double the edges to route.
  const rows = new Map<string, ChartEdge[]>()
  for (const edge of edges) {
    if (edge.targets.length === 0) rows.set(edge.source, [...(rows.get(edge.source) ?? []), edge])
  }
  return rows
}

/** The ELK graph to lay out: the states nested as in the machine, one edge per transition target. */
function elkGraph(nodes: readonly ChartNode[], edges: readonly ChartEdge[], rows: ReadonlyMap<string, ChartEdge[]>): ElkNode {
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
  return {
    id: '__statechart',
    layoutOptions: { 'elk.padding': '[top=8,left=8,bottom=8,right=8]' },
    children: root ? [root] : [],
    edges: elkEdges,
  }
}

/** The routes ELK found, each matched back to its transition by the `<edge id>#<target index>` id. */
function routesOf(result: ElkNode, edges: readonly ChartEdge[]): Route[] {
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
  return routes
}
