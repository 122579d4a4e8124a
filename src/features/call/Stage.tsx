import { Pin, PinOff, Move } from 'lucide-react'
import { useRef, type ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { useElementSize } from '../../shared/useElementSize'
import { CORNERS, layout, type Corner } from './layout'

export type StageTile = { key: string; label: string; node: ReactNode }

/**
 * The tiles, placed by `layout()` for the stage's measured size: each in a
 * slot of its own, keyed, so a video is never remounted when the layout
 * changes (a remount would restart its playback).
 */
export function Stage({
  tiles,
  self,
  spotlight,
  pinned,
  onPin,
  corner,
  onCorner,
}: {
  tiles: StageTile[]
  self: string
  spotlight: string | null
  pinned: string | null
  onPin: (key: string | null) => void
  corner: Corner
  onCorner: (corner: Corner) => void
}) {
  const { t } = useTranslation()
  const ref = useRef<HTMLElement>(null)
  const stage = useElementSize(ref)
  const { mode, boxes, small } = layout({ stage, tiles: tiles.map((t) => t.key), self, spotlight, corner })
  return (
    <main ref={ref} className="stage" data-testid="stage" data-layout={mode} aria-label={t('call.stage')}>
      {stage.width > 0 &&
        tiles.map(({ key, label, node }) => {
          const box = boxes[key]
          const isPinned = pinned === key
          const inset = mode === 'one-to-one' && key === self
          return (
            <div
              key={key}
              className={`slot${small.includes(key) ? ' small' : ''}${inset ? ' inset' : ''}${spotlight === key ? ' spotlit' : ''}`}
              data-slot={key}
              style={{ transform: `translate(${box.x}px, ${box.y}px)`, width: box.width, height: box.height }}
            >
              {node}
              <div className="slot-actions">
                {inset && (
                  <button
                    type="button"
                    data-testid="move-inset"
                    title={t('stage.moveInset')}
                    aria-label={t('stage.moveInset')}
                    onClick={() => onCorner(CORNERS[(CORNERS.indexOf(corner) + 1) % CORNERS.length])}
                  >
                    <Move size={16} aria-hidden="true" />
                  </button>
                )}
                {tiles.length > 1 && (
                  <button
                    type="button"
                    data-testid="pin-toggle"
                    aria-pressed={isPinned}
                    title={isPinned ? t('stage.unpin', { name: label }) : t('stage.pinTitle', { name: label })}
                    aria-label={isPinned ? t('stage.unpin', { name: label }) : t('stage.pin', { name: label })}
                    onClick={() => onPin(isPinned ? null : key)}
                  >
                    {isPinned ? <PinOff size={16} aria-hidden="true" /> : <Pin size={16} aria-hidden="true" />}
                  </button>
                )}
              </div>
            </div>
          )
        })}
    </main>
  )
}
