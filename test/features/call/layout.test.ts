import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CORNERS, gridShape, layout, type Box, type LayoutInput } from '../../../src/features/call/layout'

const LAPTOP = { width: 1280, height: 640 }
const PHONE = { width: 390, height: 640 }
const keys = (n: number) => ['self', ...Array.from({ length: n - 1 }, (_, i) => `peer${i + 1}`)]
const input = (n: number, over: Partial<LayoutInput> = {}): LayoutInput => ({
  stage: LAPTOP,
  tiles: keys(n),
  self: 'self',
  spotlight: null,
  corner: 'bottom-right',
  ...over,
})
const area = (b: Box) => b.width * b.height
const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
const inside = (b: Box, stage: { width: number; height: number }) =>
  b.x >= -0.01 && b.y >= -0.01 && b.x + b.width <= stage.width + 0.01 && b.y + b.height <= stage.height + 0.01

describe('the stage layout', () => {
  it('chooses rows and columns for the shape of the stage', () => {
    const shape = (n: number, stage: { width: number; height: number }) => {
      const { cols, rows } = gridShape(n, stage, 8, 16 / 9)
      return `${cols}x${rows}`
    }
    expect([3, 4, 5, 6].map((n) => shape(n, LAPTOP))).toEqual(['2x2', '2x2', '3x2', '3x2'])
    expect([3, 4, 5, 6].map((n) => shape(n, PHONE))).toEqual(['1x3', '1x4', '1x5', '2x3'])
  })

  it('in a 1:1 call, the remote fills the stage and your own view is a small inset in the corner you chose', () => {
    for (const corner of CORNERS) {
      const { mode, boxes, small } = layout(input(2, { corner }))
      expect(mode).toBe('one-to-one')
      expect(small).toEqual(['self'])
      expect(area(boxes.peer1)).toBeGreaterThan(0.95 * area({ x: 0, y: 0, ...LAPTOP }))
      expect(area(boxes.self)).toBeLessThan(0.06 * area(boxes.peer1))
      const right = boxes.self.x > LAPTOP.width / 2
      const bottom = boxes.self.y > LAPTOP.height / 2
      expect([bottom ? 'bottom' : 'top', right ? 'right' : 'left'].join('-')).toBe(corner)
    }
  })

  it('a spotlight (a pin or a shared screen) takes the stage, the others go in a strip beside it or below it', () => {
    const wide = layout(input(4, { spotlight: 'peer2' }))
    expect(wide.mode).toBe('spotlight')
    expect(wide.small.sort()).toEqual(['peer1', 'peer3', 'self'])
    for (const key of wide.small) {
      expect(area(wide.boxes[key])).toBeLessThan(area(wide.boxes.peer2) / 4)
      expect(wide.boxes[key].x).toBeGreaterThan(wide.boxes.peer2.x + wide.boxes.peer2.width)
    }
    const tall = layout(input(3, { stage: PHONE, spotlight: 'peer1' }))
    for (const key of tall.small) expect(tall.boxes[key].y).toBeGreaterThan(tall.boxes.peer1.y + tall.boxes.peer1.height)
    // A spotlight on a tile that is not there is no spotlight.
    expect(layout(input(3, { spotlight: 'gone' })).mode).toBe('grid')
  })

  it('a collapsed strip gives the spotlight the whole stage, and puts the strip off it, the tiles their size', () => {
    for (const stage of [LAPTOP, PHONE]) {
      const open = layout(input(4, { stage, spotlight: 'peer2' }))
      const shut = layout(input(4, { stage, spotlight: 'peer2', collapsed: true }))
      expect(shut.hidden.sort()).toEqual(['peer1', 'peer3', 'self'])
      expect(open.hidden).toEqual([])
      expect(area(shut.boxes.peer2)).toBeGreaterThan(area(open.boxes.peer2))
      expect(inside(shut.boxes.peer2, stage)).toBe(true)
      for (const key of shut.hidden) {
        expect(overlaps(shut.boxes[key], { x: 0, y: 0, ...stage })).toBe(false)
        expect(area(shut.boxes[key])).toBeCloseTo(area(open.boxes[key]), 0)
      }
    }
    // Collapsing means nothing without a spotlight.
    expect(layout(input(4, { collapsed: true })).hidden).toEqual([])
  })

  it('for any count, stage and spotlight, every tile is on the stage and no two overlap (the inset aside)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 200, max: 2560 }),
        fc.integer({ min: 200, max: 1600 }),
        fc.option(fc.integer({ min: 0, max: 6 })),
        fc.constantFrom(...CORNERS),
        (n, width, height, pin, corner) => {
          const tiles = keys(n)
          const stage = { width, height }
          const result = layout({ stage, tiles, self: 'self', spotlight: pin === null ? null : (tiles[pin] ?? null), corner })
          expect(Object.keys(result.boxes).sort()).toEqual([...tiles].sort())
          for (const key of tiles) {
            expect(inside(result.boxes[key], stage)).toBe(true)
            expect(result.boxes[key].width).toBeGreaterThan(0)
          }
          const laidOut = result.mode === 'one-to-one' ? [] : tiles
          for (const a of laidOut) for (const b of laidOut) if (a < b) expect(overlaps(result.boxes[a], result.boxes[b])).toBe(false)
          if (result.mode === 'grid') {
            const sizes = new Set(tiles.map((key) => `${result.boxes[key].width.toFixed(2)}x${result.boxes[key].height.toFixed(2)}`))
            expect(sizes.size).toBe(1)
          }
        },
      ),
    )
  })
})
