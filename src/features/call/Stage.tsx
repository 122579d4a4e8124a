import { Move, PanelRightClose, PanelRightOpen, Pin, PinOff, Video, VideoOff, type LucideIcon } from 'lucide-react'
import { useEffect, useRef, type ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { useElementSize } from '../../shared/useElementSize'
import { CORNERS, layout, type Corner } from './layout'

/** A tile on the stage; `videoOff` (remote tiles only) says whether its video is turned off here. */
export type StageTile = { key: string; label: string; node: ReactNode; videoOff?: boolean }

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
  onToggleVideo,
  collapsed,
  onCollapse,
  onAway,
}: {
  tiles: StageTile[]
  self: string
  spotlight: string | null
  pinned: string | null
  onPin: (key: string | null) => void
  corner: Corner
  onCorner: (corner: Corner) => void
  /** Turns a remote tile's incoming video off or on (absent in audio-only mode). */
  onToggleVideo?: (key: string) => void
  /** Whether the spotlight's strip is collapsed, and the switch. */
  collapsed: boolean
  onCollapse: (collapsed: boolean) => void
  /** Told which tiles are off the stage (a collapsed strip's), whenever that changes. */
  onAway: (keys: string[]) => void
}) {
  const { t } = useTranslation()
  const ref = useRef<HTMLElement>(null)
  const stage = useElementSize(ref)
  const { mode, boxes, small, hidden } = layout({ stage, tiles: tiles.map((t) => t.key), self, spotlight, corner, collapsed })
  const away = hidden.join(' ')
  useEffect(() => onAway(away ? away.split(' ') : []), [away, onAway])
  return (
    <main ref={ref} className="stage" data-testid="stage" data-layout={mode} aria-label={t('call.stage')}>
      {mode === 'spotlight' && (
        <button
          type="button"
          className="strip-toggle"
          data-testid="strip-toggle"
          aria-pressed={collapsed}
          title={collapsed ? t('stage.showOthers') : t('stage.hideOthers')}
          aria-label={collapsed ? t('stage.showOthers') : t('stage.hideOthers')}
          onClick={() => onCollapse(!collapsed)}
        >
          {collapsed ? <PanelRightOpen size={18} aria-hidden="true" /> : <PanelRightClose size={18} aria-hidden="true" />}
        </button>
      )}
      {stage.width > 0 &&
        tiles.map(({ key, label, node, videoOff }) => {
          const box = boxes[key]
          const isPinned = pinned === key
          const inset = mode === 'one-to-one' && key === self
          return (
            <div
              key={key}
              className={`slot${small.includes(key) ? ' small' : ''}${inset ? ' inset' : ''}${spotlight === key ? ' spotlit' : ''}${hidden.includes(key) ? ' away' : ''}`}
              data-slot={key}
              aria-hidden={hidden.includes(key) || undefined}
              style={{ transform: `translate(${box.x}px, ${box.y}px)`, width: box.width, height: box.height }}
            >
              {node}
              <div className="slot-actions">
                {inset && (
                  <SlotButton
                    testid="move-inset"
                    icon={Move}
                    label={t('stage.moveInset')}
                    onClick={() => onCorner(CORNERS[(CORNERS.indexOf(corner) + 1) % CORNERS.length])}
                  />
                )}
                {onToggleVideo && videoOff !== undefined && (
                  <SlotButton
                    testid="video-toggle"
                    icon={videoOff ? VideoOff : Video}
                    pressed={videoOff}
                    label={videoOff ? t('stage.videoOn', { name: label }) : t('stage.videoOff', { name: label })}
                    onClick={() => onToggleVideo(key)}
                  />
                )}
                {tiles.length > 1 && (
                  <SlotButton
                    testid="pin-toggle"
                    icon={isPinned ? PinOff : Pin}
                    pressed={isPinned}
                    label={isPinned ? t('stage.unpin', { name: label }) : t('stage.pin', { name: label })}
                    onClick={() => onPin(isPinned ? null : key)}
                  />
                )}
              </div>
            </div>
          )
        })}
    </main>
  )
}

/** A small button on a tile, its label also its tooltip. */
function SlotButton({
  testid,
  icon: Icon,
  label,
  pressed,
  onClick,
}: {
  testid: string
  icon: LucideIcon
  label: string
  pressed?: boolean
  onClick: () => void
}) {
  return (
    <button type="button" data-testid={testid} aria-pressed={pressed} title={label} aria-label={label} onClick={onClick}>
      <Icon size={16} aria-hidden="true" />
    </button>
  )
}
