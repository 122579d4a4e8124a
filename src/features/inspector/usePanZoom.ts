import { useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react'
import type { Box } from './statechartLayout'

const MAX_ZOOM = 12

/** The size of what is shown. Its identity keys the zoom: a new extent starts fitted. */
export type Extent = { readonly width: number; readonly height: number }

/**
 * Pan and zoom over an SVG drawing of `extent`: the returned `view` is its
 * `viewBox`. Ctrl/⌘ + wheel zooms about the pointer; zoomed in, the wheel or
 * a drag pans, and the view never leaves the drawing.
 *
 * @example
 * const { svgRef, view, zoom, fit, pointerHandlers } = usePanZoom(layout)
 * <svg ref={svgRef} viewBox={`${view.x} ${view.y} ${view.width} ${view.height}`} {...pointerHandlers} />
 */
export function usePanZoom(extent: Extent) {
  const full: Box = { x: 0, y: 0, width: extent.width, height: extent.height }
  // The zoom belongs to one layout: another machine starts fitted.
  const [zoomed, setZoomed] = useState<{ extent: Extent; box: Box } | null>(null)
  const zoomedRef = useRef(zoomed)
  const view = zoomed?.extent === extent ? zoomed.box : full
  const currentView = () => (zoomedRef.current?.extent === extent ? zoomedRef.current.box : full)
  const svgRef = useRef<SVGSVGElement>(null)
  const drag = useRef<{ x: number; y: number; view: Box } | null>(null)

  const show = (next: Box) => {
    zoomedRef.current = { extent, box: next }
    setZoomed(zoomedRef.current)
  }
  /** Zooms by `factor` (above 1 zooms in), keeping the point at fractions `fx`, `fy` of the view in place. */
  const zoom = (factor: number, fx = 0.5, fy = 0.5) => {
    const current = currentView()
    const width = Math.min(extent.width, Math.max(extent.width / MAX_ZOOM, current.width / factor))
    const height = (width / extent.width) * extent.height
    show(clamp(extent, { x: current.x + (current.width - width) * fx, y: current.y + (current.height - height) * fy, width, height }))
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
      } else if (current.width < extent.width) {
        // Zoomed in, the wheel pans; otherwise it scrolls the page as usual.
        event.preventDefault()
        const scale = rect.width ? current.width / rect.width : 1
        show(clamp(extent, { ...current, x: current.x + event.deltaX * scale, y: current.y + event.deltaY * scale }))
      }
    }
    svg.addEventListener('wheel', onWheel, { passive: false })
    return () => svg.removeEventListener('wheel', onWheel)
  })

  const onPointerDown = (event: ReactPointerEvent<SVGSVGElement>) => {
    if (currentView().width >= extent.width) return
    drag.current = { x: event.clientX, y: event.clientY, view: currentView() }
    event.currentTarget.setPointerCapture(event.pointerId)
  }
  const onPointerMove = (event: ReactPointerEvent<SVGSVGElement>) => {
    const start = drag.current
    if (!start) return
    const rect = event.currentTarget.getBoundingClientRect()
    const scale = rect.width ? start.view.width / rect.width : 1
    show(
      clamp(extent, {
        ...start.view,
        x: start.view.x - (event.clientX - start.x) * scale,
        y: start.view.y - (event.clientY - start.y) * scale,
      }),
    )
  }
  const endDrag = () => {
    drag.current = null
  }

  return {
    svgRef,
    view,
    zoom,
    fit: () => show(full),
    pointerHandlers: { onPointerDown, onPointerMove, onPointerUp: endDrag, onPointerCancel: endDrag },
  }
}

function clamp(extent: Extent, view: Box): Box {
  return {
    ...view,
    x: Math.min(Math.max(0, view.x), extent.width - view.width),
    y: Math.min(Math.max(0, view.y), extent.height - view.height),
  }
}
