import { useSelector } from '@xstate/react'
import { lazy, Suspense, useState, type CSSProperties } from 'react'
import { useShortcuts } from '../../shared/useShortcuts'
import { Controls } from '../../features/call/Controls'
import { LocalTile, RemoteTile, ScreenTile } from '../../features/call/Tiles'
import { ChatPanel } from '../../features/chat/ChatPanel'
import { Toasts, useToasts } from '../../features/toasts/Toasts'
import { CallContext } from '../../shared/callContext'
import { useRecorder } from '../../shared/inspection'

/** The call: a grid of tiles that fits 1 to maxPeers people, controls, chat and toasts. */
const InspectorPanel = lazy(() => import('../../features/inspector/InspectorPanel'))

export function InCall() {
  const room = CallContext.useSelector((s) => s.context.room)
  const peers = CallContext.useSelector((s) => s.context.peers)
  const status = CallContext.useSelector((s) =>
    s.hasTag('reconnecting') ? 'reconnecting' : s.hasTag('connecting') ? 'connecting' : 'connected',
  )
  const [chatOpen, setChatOpen] = useState(true)
  const [inspecting, setInspecting] = useState(() => new URLSearchParams(location.search).has('inspect'))
  const recorder = useRecorder()
  const maxPeers = CallContext.useSelector((s) => s.context.maxPeers)
  useShortcuts({ i: () => setInspecting((open) => !open) })
  const { toasts, push } = useToasts()
  const entries = Object.entries(peers)
  const count = entries.length + 1

  return (
    <div className={`call${chatOpen ? ' with-chat' : ''}`}>
      <header className="call-header">
        <span className="brand small">meshcall</span>
        <span className="room">{room}</span>
        <button
          type="button"
          data-testid="inspector-toggle"
          aria-pressed={inspecting}
          aria-keyshortcuts="i"
          title="Inspector: every negotiation, live (I)"
          onClick={() => setInspecting((open) => !open)}
        >
          Inspector
        </button>
        <span className={`status ${status}`} role="status">
          {status === 'connected' ? `${count} in the call` : status === 'connecting' ? 'Joining…' : 'Reconnecting…'}
        </span>
      </header>
      <main className="grid" data-count={count} aria-label="Participants" style={gridSize(count)}>
        <LocalTile />
        {entries.map(([id, ref]) => (
          <RemoteTile key={id} peerId={id} peer={ref} />
        ))}
        {entries.map(([id, ref]) => (
          <Screen key={`screen-${id}`} peerId={id} peer={ref} />
        ))}
      </main>
      <ChatPanel open={chatOpen} />
      <Controls
        chatOpen={chatOpen}
        onToggleChat={() => setChatOpen((open) => !open)}
        onCopied={(ok) => push(ok ? 'Invite link copied' : 'Could not copy: the link is this page’s address', ok ? 'info' : 'error')}
      />
      <Toasts toasts={toasts} />
      {inspecting && (
        <Suspense fallback={<aside className="inspector">Loading the inspector…</aside>}>
          <InspectorPanel recorder={recorder} config={{ room, maxPeers }} onClose={() => setInspecting(false)} />
        </Suspense>
      )}
    </div>
  )
}

function Screen({ peerId, peer }: Parameters<typeof ScreenTile>[0]) {
  const sharing = useSelector(peer, (s) => s.context.link.remoteTracks.screen)
  return sharing ? <ScreenTile peerId={peerId} peer={peer} /> : null
}

/** Columns and rows for `count` tiles: 1, 2x1, 2x2, 3x2. */
function gridSize(count: number): CSSProperties & Record<'--cols' | '--rows', number> {
  const narrow = typeof window !== 'undefined' && window.innerWidth < 720
  const cols = narrow ? (count <= 2 ? 1 : 2) : count <= 1 ? 1 : count <= 4 ? 2 : 3
  return { '--cols': cols, '--rows': Math.ceil(count / cols) }
}
