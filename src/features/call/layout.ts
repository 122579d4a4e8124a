/**
 * Where each tile goes on the stage: pure geometry, so it can be tested
 * without a browser and the stage can animate between layouts.
 *
 * - `solo`: one tile fills the stage.
 * - `one-to-one`: the remote participant fills the stage, and your own view
 *   is a small inset in a corner you choose.
 * - `grid`: every tile the same size, rows and columns chosen for the
 *   stage's shape so the tiles (at `aspect`) are as large as they can be,
 *   the last row centred.
 * - `spotlight`: a pinned tile or a shared screen takes the stage, the others
 *   go in a strip: on the right on a landscape stage, along the bottom on a
 *   portrait one. With the strip collapsed, the spotlight takes the whole
 *   stage and the strip's tiles wait just past its edge, off-screen.
 */

export type Size = { width: number; height: number }
export type Box = { x: number; y: number; width: number; height: number }
export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right'
export const CORNERS: Corner[] = ['bottom-right', 'bottom-left', 'top-left', 'top-right']

export type LayoutMode = 'solo' | 'one-to-one' | 'grid' | 'spotlight'

export type LayoutInput = {
  stage: Size
  /** The tiles, in order; `self` is your own camera tile. */
  tiles: string[]
  self: string
  /** The tile in the spotlight (pinned, or a shared screen), if any. */
  spotlight: string | null
  /** Where your inset goes in a 1:1 call. */
  corner: Corner
  /** Whether the spotlight's strip is collapsed (hidden). */
  collapsed?: boolean
  /** Space between tiles and around the stage's edge, px. */
  gap?: number
  /** The tiles' width / height (cameras are 16:9 or 4:3). */
  aspect?: number
}

export type Layout = {
  mode: LayoutMode
  boxes: Record<string, Box>
  /** The tiles that are small: the inset, or the strip beside a spotlight. */
  small: string[]
  /** The tiles off the stage: a collapsed strip's. */
  hidden: string[]
}

const DEFAULT_GAP = 8
const DEFAULT_ASPECT = 16 / 9

/** Columns and rows for `count` tiles of `aspect` that make each as large as `area` allows. */
export function gridShape(count: number, area: Size, gap: number, aspect: number): { cols: number; rows: number; tile: Size } {
  let best = { cols: 1, rows: count, tile: { width: 0, height: 0 } }
  for (let cols = 1; cols <= Math.max(1, count); cols++) {
    const rows = Math.ceil(count / cols)
    const width = Math.min((area.width - gap * (cols - 1)) / cols, ((area.height - gap * (rows - 1)) / rows) * aspect)
    // A tie goes to fewer empty cells.
    if (width > best.tile.width + 0.5) best = { cols, rows, tile: { width, height: width / aspect } }
  }
  return best
}

/** Lays `tiles` out in `area` as an even grid, each tile `aspect`, the whole centred. */
function grid(tiles: string[], area: Box, gap: number, aspect: number): Record<string, Box> {
  const { cols, rows, tile } = gridShape(tiles.length, area, gap, aspect)
  const boxes: Record<string, Box> = {}
  const top = area.y + (area.height - (rows * tile.height + (rows - 1) * gap)) / 2
  tiles.forEach((key, index) => {
    const row = Math.floor(index / cols)
    const inRow = row === rows - 1 ? tiles.length - row * cols : cols
    const left = area.x + (area.width - (inRow * tile.width + (inRow - 1) * gap)) / 2
    boxes[key] = {
      x: left + (index % cols) * (tile.width + gap),
      y: top + row * (tile.height + gap),
      width: tile.width,
      height: tile.height,
    }
  })
  return boxes
}

/** The inset's box: about a fifth of the stage's width, within limits, in `corner`. */
export function insetBox(stage: Size, corner: Corner, gap: number, aspect: number): Box {
  const width = Math.round(Math.min(320, Math.max(96, Math.min(stage.width, stage.height * aspect) * 0.22)))
  const height = Math.round(width / aspect)
  const margin = gap * 2
  return {
    x: corner.endsWith('left') ? margin : stage.width - width - margin,
    y: corner.startsWith('top') ? margin : stage.height - height - margin,
    width,
    height,
  }
}

export function layout(input: LayoutInput): Layout {
  const gap = input.gap ?? DEFAULT_GAP
  const aspect = input.aspect ?? DEFAULT_ASPECT
  const { stage, tiles } = input
  const whole: Box = { x: gap, y: gap, width: Math.max(0, stage.width - 2 * gap), height: Math.max(0, stage.height - 2 * gap) }
  const spotlight = input.spotlight !== null && tiles.includes(input.spotlight) ? input.spotlight : null

  if (tiles.length === 1) return { mode: 'solo', boxes: { [tiles[0]]: whole }, small: [], hidden: [] }

  if (spotlight === null && tiles.length === 2 && tiles.includes(input.self)) {
    const [remote] = tiles.filter((key) => key !== input.self)
    return {
      mode: 'one-to-one',
      boxes: { [remote]: whole, [input.self]: insetBox(stage, input.corner, gap, aspect) },
      small: [input.self],
      hidden: [],
    }
  }

  if (spotlight === null) return { mode: 'grid', boxes: grid(tiles, whole, gap, aspect), small: [], hidden: [] }

  const rest = tiles.filter((key) => key !== spotlight)
  const landscape = whole.width >= whole.height
  // The strip: a fifth of the stage's long side, enough for a tile's name.
  const stripSize = Math.round(landscape ? Math.max(160, whole.width * 0.2) : Math.max(90, whole.height * 0.2))
  if (input.collapsed) {
    // The strip's tiles keep their size, past the stage's far edge (never remounted, so they come back playing).
    const away: Box = landscape
      ? { x: stage.width + gap, y: whole.y, width: stripSize, height: whole.height }
      : { x: whole.x, y: stage.height + gap, width: whole.width, height: stripSize }
    return { mode: 'spotlight', boxes: { [spotlight]: whole, ...grid(rest, away, gap, aspect) }, small: rest, hidden: rest }
  }
  const main: Box = landscape
    ? { x: whole.x, y: whole.y, width: whole.width - stripSize - gap, height: whole.height }
    : { x: whole.x, y: whole.y, width: whole.width, height: whole.height - stripSize - gap }
  const strip: Box = landscape
    ? { x: main.x + main.width + gap, y: whole.y, width: stripSize, height: whole.height }
    : { x: whole.x, y: main.y + main.height + gap, width: whole.width, height: stripSize }
  return { mode: 'spotlight', boxes: { [spotlight]: main, ...grid(rest, strip, gap, aspect) }, small: rest, hidden: [] }
}
