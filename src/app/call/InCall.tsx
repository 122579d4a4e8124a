import { lazy, Suspense, useCallback, useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useShortcuts } from '../../shared/useShortcuts'
import { Controls } from '../../features/call/Controls'
import { ShortcutsHelp } from '../../features/call/ShortcutsHelp'
import { DevicesDialog } from '../../features/call/DevicesDialog'
import { useSelector } from '@xstate/react'
import { LocalTile, RemoteTile, ScreenTile } from '../../features/call/Tiles'
import { Stage, type StageTile } from '../../features/call/Stage'
import { CORNERS, type Corner } from '../../features/call/layout'
import { ChatPanel } from '../../features/chat/ChatPanel'
import { Toasts, useToasts } from '../../features/toasts/Toasts'
import { CallContext } from '../../shared/callContext'
import { useLongAway, useLongHidden, useVideoWants } from '../../features/call/useVideoWants'
import { useFollowSetting, useFollowSpeaker } from '../../features/call/useFollowSpeaker'
import { useRecorder } from '../../shared/inspection'
import { useOnline } from '../../shared/useOnline'

const InspectorPanel = lazy(() => import('../../features/inspector/InspectorPanel'))

const SELF = 'local'
const CORNER_KEY = 'meshcall.inset'

/** Where your own view sits in a 1:1 call, remembered for the next call. */
function useCorner(): [Corner, (corner: Corner) => void] {
  const [corner, setCorner] = useState<Corner>(() => {
    const stored = localStorage.getItem(CORNER_KEY)
    return CORNERS.find((c) => c === stored) ?? 'bottom-right'
  })
  return [
    corner,
    (next) => {
      localStorage.setItem(CORNER_KEY, next)
      setCorner(next)
    },
  ]
}

/** How many chat messages from others arrived while the chat was closed. */
function useUnread(open: boolean): number {
  const received = CallContext.useSelector((s) => s.context.chat.filter((m) => !m.self).length)
  const [seen, setSeen] = useState(received)
  useEffect(() => {
    if (open) setSeen(received)
  }, [open, received])
  return open ? 0 : Math.max(0, received - seen)
}

/** The call: the stage of tiles, the controls, chat, toasts and the inspector. */
export function InCall() {
  const { t } = useTranslation()
  const room = CallContext.useSelector((s) => s.context.room)
  const peers = CallContext.useSelector((s) => s.context.peers)
  const roster = CallContext.useSelector((s) => s.context.roster)
  const status = CallContext.useSelector((s) =>
    s.hasTag('reconnecting') ? 'reconnecting' : s.hasTag('connecting') ? 'connecting' : 'connected',
  )
  const [chatOpen, setChatOpen] = useState(false)
  const [helpOpen, setHelpOpen] = useState(false)
  const [devicesOpen, setDevicesOpen] = useState(false)
  const [inspecting, setInspecting] = useState(() => new URLSearchParams(location.search).has('inspect'))
  const [pinned, setPinned] = useState<string | null>(null)
  const [corner, setCorner] = useCorner()
  const [audioOnly, setAudioOnly] = useState(false)
  const [videoOff, setVideoOff] = useState<ReadonlySet<string>>(() => new Set())
  const hidden = useLongHidden()
  const [collapsed, setCollapsed] = useState(false)
  const [offStage, setOffStage] = useState<string[]>([])
  const away = useLongAway(offStage)
  // Only a change of who is off the stage renders the call again.
  const onAway = useCallback((keys: string[]) => setOffStage((old) => (old.join(' ') === keys.join(' ') ? old : keys)), [])
  const [following, toggleFollowing] = useFollowSetting()
  const { speaker, onSpeaking } = useFollowSpeaker(Object.keys(peers))
  const online = useOnline()
  useVideoWants(peers, { audioOnly, videoOff, hidden, away })
  const media = CallContext.useSelector((s) => s.context.media)
  const camera = CallContext.useSelector((s) => s.context.presence.camera)
  const [cameraBefore, setCameraBefore] = useState(false)
  const toggleAudioOnly = () => {
    // Audio only: no video sent (the camera goes off) and none received; back, the camera is as it was.
    if (!audioOnly) {
      setCameraBefore(camera)
      if (camera) media.send({ type: 'ui.toggleCamera' })
    } else if (cameraBefore && !camera) media.send({ type: 'ui.toggleCamera' })
    setAudioOnly(!audioOnly)
  }
  const toggleVideoOff = (id: string) =>
    setVideoOff((old) => {
      const next = new Set(old)
      if (!next.delete(id)) next.add(id)
      return next
    })
  const unread = useUnread(chatOpen)
  const recorder = useRecorder()
  const maxPeers = CallContext.useSelector((s) => s.context.maxPeers)
  const toggleInspector = () => setInspecting((open) => !open)
  const toggleChat = () => setChatOpen((open) => !open)
  useShortcuts({ i: toggleInspector, c: toggleChat, '?': () => setHelpOpen(true) })
  const { toasts, push } = useToasts()
  // A camera or microphone unplugged mid-call: say what took over, or that the call goes on without it.
  const fallback = useSelector(media, (s) => s.context.fallback)
  useEffect(() => {
    if (!fallback) return
    const what = fallback.kind === 'audioinput' ? 'mic' : 'camera'
    if (fallback.to) push(t(`toasts.${what}Switched`, { device: fallback.to }))
    else push(t(`toasts.${what}Lost`), 'error')
    // Once per fallback (`at`); push and t change on every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fallback?.at])
  const entries = Object.entries(peers)
  const count = entries.length + 1

  const tiles: StageTile[] = [
    { key: SELF, label: t('stage.yourself'), node: <LocalTile /> },
    ...entries.map(([id, ref]) => ({
      key: id,
      label: roster[id]?.name ?? t('common.someone'),
      node: <RemoteTile peerId={id} peer={ref} videoOff={audioOnly || videoOff.has(id)} onSpeaking={onSpeaking} />,
      videoOff: videoOff.has(id),
    })),
    ...entries
      .filter(([id]) => roster[id]?.screen)
      .map(([id, ref]) => ({
        key: `screen:${id}`,
        label: t('stage.screenOf', { name: roster[id]?.name ?? t('common.someone') }),
        node: <ScreenTile peerId={id} peer={ref} />,
      })),
  ]
  // A pin wins; then the first shared screen; then, followed, the speaker
  // (from three people up: in a 1:1 call the other one fills the stage anyway).
  const shared = tiles.find((t) => t.key.startsWith('screen:'))?.key ?? null
  const followed = following && count >= 3 ? speaker : null
  const spotlight = pinned !== null && tiles.some((t) => t.key === pinned) ? pinned : (shared ?? followed)
  // A strip collapsed for one spotlight is open again for the next.
  useEffect(() => {
    if (spotlight === null) setCollapsed(false)
  }, [spotlight])

  return (
    <div className={`call${chatOpen ? ' with-chat' : ''}${inspecting ? ' inspecting' : ''}`}>
      <header className="call-header">
        <span className="brand small">meshcall</span>
        <span className="room" title={room}>
          {room}
        </span>
        <button
          type="button"
          className="header-inspector"
          data-testid="inspector-toggle"
          aria-pressed={inspecting}
          aria-keyshortcuts="i"
          title={t('call.inspectorTitle')}
          onClick={toggleInspector}
        >
          {t('call.inspector')}
        </button>
        <span className={`status ${status}`} role="status">
          {status === 'connected'
            ? t('call.participants', { count })
            : status === 'connecting'
              ? t('call.joining')
              : t('call.reconnecting')}
        </span>
      </header>
      {!online && (
        <p className="offline-banner" role="alert" data-testid="offline-banner">
          {t('call.offline')}
        </p>
      )}
      <Stage
        tiles={tiles}
        self={SELF}
        spotlight={spotlight}
        pinned={pinned}
        onPin={setPinned}
        corner={corner}
        onCorner={setCorner}
        onToggleVideo={audioOnly ? undefined : toggleVideoOff}
        collapsed={collapsed}
        onCollapse={setCollapsed}
        onAway={onAway}
      />
      <ChatPanel open={chatOpen} onClose={() => setChatOpen(false)} />
      <Controls
        chatOpen={chatOpen}
        unread={unread}
        onToggleChat={toggleChat}
        onToggleInspector={toggleInspector}
        onHelp={() => setHelpOpen(true)}
        onDevices={() => setDevicesOpen(true)}
        audioOnly={audioOnly}
        onToggleAudioOnly={toggleAudioOnly}
        following={following}
        onToggleFollowing={toggleFollowing}
        onCopied={(ok) => push(ok ? t('call.linkCopied') : t('call.linkNotCopied'), ok ? 'info' : 'error')}
      />
      <Toasts toasts={toasts} />
      <ShortcutsHelp open={helpOpen} onClose={() => setHelpOpen(false)} />
      <DevicesDialog open={devicesOpen} onClose={() => setDevicesOpen(false)} />
      {inspecting && (
        <Suspense fallback={<aside className="inspector">{t('call.loadingInspector')}</aside>}>
          <InspectorPanel recorder={recorder} config={{ room, maxPeers }} onClose={() => setInspecting(false)} />
        </Suspense>
      )}
    </div>
  )
}
