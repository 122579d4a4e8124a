import { useSelector } from '@xstate/react'
import {
  AudioLines,
  Gauge,
  Ellipsis,
  Keyboard,
  Link,
  Settings,
  Speech,
  MessageSquare,
  Mic,
  MicOff,
  MonitorOff,
  MonitorUp,
  PhoneOff,
  ScanSearch,
  Video,
  VideoOff,
  type LucideIcon,
} from 'lucide-react'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { LanguageSwitch } from '../../i18n/LanguageSwitch'
import { useShortcuts } from '../../shared/useShortcuts'
import { CallContext } from '../../shared/callContext'
import { useMediaQuery } from '../../shared/useElementSize'
import { saveResume } from './resume'
import { useLowBandwidth } from '../../shared/videoQuality'

/** Whether this browser can share a screen at all (phones cannot). */
const canShareScreen = () => typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function'

/** A control: an icon, and a label that says what pressing it does (shown, or as a tooltip where space is short). */
function ControlButton({
  icon: Icon,
  label,
  shortcut,
  off,
  className,
  children,
  ...rest
}: {
  icon: LucideIcon
  label: string
  shortcut?: string
  off?: boolean
  children?: ReactNode
} & Omit<React.ButtonHTMLAttributes<HTMLButtonElement>, 'children'>) {
  return (
    <button
      type="button"
      className={['control', off ? 'off' : '', className ?? ''].filter(Boolean).join(' ')}
      title={shortcut ? `${label} (${shortcut.toUpperCase()})` : label}
      aria-keyshortcuts={shortcut}
      {...rest}
    >
      <Icon size={20} aria-hidden="true" />
      <span className="control-label">{label}</span>
      {children}
    </button>
  )
}

/**
 * Microphone, camera, screen share, chat, a "more" menu (invite link,
 * inspector, shortcuts) and leave. On a narrow screen they fit one row:
 * labels become tooltips and the screen share goes under "more".
 */
export function Controls({
  onCopied,
  chatOpen,
  unread,
  onToggleChat,
  onToggleInspector,
  onHelp,
  audioOnly,
  onToggleAudioOnly,
  following,
  onToggleFollowing,
  onDevices,
}: {
  onCopied: (ok: boolean) => void
  chatOpen: boolean
  unread: number
  onToggleChat: () => void
  onToggleInspector: () => void
  onHelp: () => void
  audioOnly: boolean
  onToggleAudioOnly: () => void
  following: boolean
  onToggleFollowing: () => void
  onDevices: () => void
}) {
  const { t } = useTranslation()
  const call = CallContext.useActorRef()
  const media = CallContext.useSelector((s) => s.context.media)
  const room = CallContext.useSelector((s) => s.context.room)
  const mic = CallContext.useSelector((s) => s.context.presence.mic)
  const camera = CallContext.useSelector((s) => s.context.presence.camera)
  const screen = CallContext.useSelector((s) => s.context.presence.screen)
  const canMic = useSelector(media, (s) => s.can({ type: 'ui.toggleMic' }))
  const canCamera = useSelector(media, (s) => s.can({ type: 'ui.toggleCamera' }))
  const canStartScreen = useSelector(media, (s) => s.can({ type: 'ui.startScreen' }))
  const canStopScreen = useSelector(media, (s) => s.can({ type: 'ui.stopScreen' }))
  const canLeave = CallContext.useSelector((s) => s.can({ type: 'ui.leave' }))
  const narrow = useMediaQuery('(max-width: 640px)')
  const [menuOpen, setMenuOpen] = useState(false)
  const [lowBandwidth, setLowBandwidth] = useLowBandwidth()

  useShortcuts({
    m: () => media.send({ type: 'ui.toggleMic' }),
    v: () => media.send({ type: 'ui.toggleCamera' }),
  })

  const copy = () => {
    const link = `${location.origin}/r/${room}`
    if (!navigator.clipboard) return onCopied(false)
    navigator.clipboard.writeText(link).then(
      () => onCopied(true),
      () => onCopied(false),
    )
  }

  const screenButton = canShareScreen() && (
    <ControlButton
      icon={screen ? MonitorOff : MonitorUp}
      label={screen ? t('controls.stopPresenting') : t('controls.present')}
      data-testid="toggle-screen"
      aria-pressed={screen}
      disabled={screen ? !canStopScreen : !canStartScreen}
      onClick={() => media.send({ type: screen ? 'ui.stopScreen' : 'ui.startScreen' })}
    />
  )

  return (
    <nav className="controls" aria-label={t('controls.nav')}>
      <ControlButton
        icon={mic ? Mic : MicOff}
        label={mic ? t('controls.mute') : t('controls.unmute')}
        shortcut="m"
        off={!mic}
        data-testid="toggle-mic"
        aria-pressed={mic}
        disabled={!canMic}
        onClick={() => media.send({ type: 'ui.toggleMic' })}
      />
      <ControlButton
        icon={camera ? Video : VideoOff}
        label={camera ? t('controls.stopCamera') : t('controls.startCamera')}
        shortcut="v"
        off={!camera}
        data-testid="toggle-camera"
        aria-pressed={camera}
        disabled={!canCamera}
        onClick={() => media.send({ type: 'ui.toggleCamera' })}
      />
      {!narrow && screenButton}
      <ControlButton
        icon={MessageSquare}
        label={chatOpen ? t('controls.closeChat') : t('controls.chat')}
        shortcut="c"
        data-testid="toggle-chat"
        aria-pressed={chatOpen}
        aria-controls="chat-panel"
        onClick={onToggleChat}
      >
        {unread > 0 && (
          <span className="unread" data-testid="chat-unread" aria-label={t('controls.unread', { count: unread })}>
            {unread}
          </span>
        )}
      </ControlButton>
      <Menu open={menuOpen} onOpenChange={setMenuOpen} label={t('controls.more')} groupLabel={t('controls.moreGroup')}>
        {narrow && screenButton}
        <ControlButton icon={Settings} label={t('controls.devices')} data-testid="menu-devices" onClick={onDevices} />
        <ControlButton
          icon={AudioLines}
          label={audioOnly ? t('controls.videoBack') : t('controls.audioOnly')}
          data-testid="audio-only"
          aria-pressed={audioOnly}
          onClick={onToggleAudioOnly}
        />
        <ControlButton
          icon={Gauge}
          label={lowBandwidth ? t('controls.fullQuality') : t('controls.lowBandwidth')}
          data-testid="low-bandwidth"
          aria-pressed={lowBandwidth}
          onClick={() => setLowBandwidth(!lowBandwidth)}
        />
        <ControlButton
          icon={Speech}
          label={following ? t('controls.stopFollowing') : t('controls.followSpeaker')}
          data-testid="follow-speaker"
          aria-pressed={following}
          onClick={onToggleFollowing}
        />
        <ControlButton icon={Link} label={t('controls.copyLink')} data-testid="copy-link" onClick={copy} />
        <ControlButton
          icon={ScanSearch}
          label={t('call.inspector')}
          shortcut="i"
          data-testid="menu-inspector"
          onClick={onToggleInspector}
        />
        <ControlButton icon={Keyboard} label={t('controls.shortcuts')} shortcut="?" onClick={onHelp} />
        <LanguageSwitch />
      </Menu>
      <ControlButton
        icon={PhoneOff}
        label={t('controls.leave')}
        className="danger"
        data-testid="leave"
        disabled={!canLeave}
        onClick={() => {
          saveResume(room, null)
          call.send({ type: 'ui.leave' })
        }}
      />
    </nav>
  )
}

/** The "more" menu: a button and a popover of controls, closed by pressing one of them, by Escape or by a click elsewhere. */
function Menu({
  open,
  onOpenChange,
  label,
  groupLabel,
  children,
}: {
  open: boolean
  onOpenChange: (open: boolean) => void
  label: string
  groupLabel: string
  children: ReactNode
}) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!open) return
    const away = (event: PointerEvent) => {
      if (!ref.current?.contains(event.target as Node)) onOpenChange(false)
    }
    const escape = (event: KeyboardEvent) => event.key === 'Escape' && onOpenChange(false)
    document.addEventListener('pointerdown', away)
    document.addEventListener('keydown', escape)
    return () => {
      document.removeEventListener('pointerdown', away)
      document.removeEventListener('keydown', escape)
    }
  }, [open, onOpenChange])
  return (
    <div className="menu" ref={ref}>
      <ControlButton
        icon={Ellipsis}
        label={label}
        data-testid="more"
        aria-expanded={open}
        aria-haspopup="true"
        onClick={() => onOpenChange(!open)}
      />
      {open && (
        <div
          className="menu-items"
          role="group"
          aria-label={groupLabel}
          onClick={(event) => (event.target as Element).closest('button') && onOpenChange(false)}
        >
          {children}
        </div>
      )}
    </div>
  )
}
