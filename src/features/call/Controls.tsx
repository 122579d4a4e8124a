import { useSelector } from '@xstate/react'
import { useShortcuts } from '../../shared/useShortcuts'
import { CallContext } from '../../shared/callContext'
import { saveResume } from './resume'

/** Microphone, camera, screen share, invite link and leave; `m` and `v` as shortcuts. */
export function Controls({
  onCopied,
  chatOpen,
  onToggleChat,
}: {
  onCopied: (ok: boolean) => void
  chatOpen: boolean
  onToggleChat: () => void
}) {
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

  return (
    <nav className="controls" aria-label="Call controls">
      <button
        type="button"
        data-testid="toggle-mic"
        className={mic ? undefined : 'off'}
        aria-pressed={mic}
        aria-keyshortcuts="m"
        title={`${mic ? 'Turn off' : 'Turn on'} microphone (M)`}
        disabled={!canMic}
        onClick={() => media.send({ type: 'ui.toggleMic' })}
      >
        {mic ? 'Mic on' : 'Mic off'}
      </button>
      <button
        type="button"
        data-testid="toggle-camera"
        className={camera ? undefined : 'off'}
        aria-pressed={camera}
        aria-keyshortcuts="v"
        title={`${camera ? 'Turn off' : 'Turn on'} camera (V)`}
        disabled={!canCamera}
        onClick={() => media.send({ type: 'ui.toggleCamera' })}
      >
        {camera ? 'Camera on' : 'Camera off'}
      </button>
      <button
        type="button"
        data-testid="toggle-screen"
        aria-pressed={screen}
        title={screen ? 'Stop presenting your screen' : 'Present your screen'}
        disabled={screen ? !canStopScreen : !canStartScreen}
        onClick={() => media.send({ type: screen ? 'ui.stopScreen' : 'ui.startScreen' })}
      >
        {screen ? 'Stop presenting' : 'Present'}
      </button>
      <button type="button" title="Copy the invite link" onClick={copy}>
        Copy link
      </button>
      <button type="button" aria-pressed={chatOpen} aria-controls="chat-panel" title="Show or hide the chat" onClick={onToggleChat}>
        Chat
      </button>
      <button
        type="button"
        className="danger"
        data-testid="leave"
        title="Leave the call"
        disabled={!canLeave}
        onClick={() => {
          saveResume(room, null)
          call.send({ type: 'ui.leave' })
        }}
      >
        Leave
      </button>
    </nav>
  )
}
