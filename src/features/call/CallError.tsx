import { ReloadOrHome } from '../../shared/ReloadOrHome'
import { CallContext } from '../../shared/callContext'

const ADVICE = {
  'room-full': {
    title: 'This room is full',
    text: (max: number | null) =>
      `A meshcall room holds ${max ?? 'a few'} people, because everyone sends video to everyone. Try again when someone leaves, or start a new room.`,
    retry: true,
  },
  unauthorized: {
    title: 'This room needs an invitation',
    text: () => 'Joining this room needs a token. Ask whoever invited you for a link that includes one (it ends in ?token=…).',
    retry: false,
  },
  unreachable: {
    title: 'The call server cannot be reached',
    text: () => 'Check your connection. If it is fine, the server may be down for a moment.',
    retry: true,
  },
} as const

/** The failures a person can act on, each with what to do. */
export function CallError() {
  const call = CallContext.useActorRef()
  const failure = CallContext.useSelector((s) => s.context.failure)
  const maxPeers = CallContext.useSelector((s) => s.context.maxPeers)
  const canRetry = CallContext.useSelector((s) => s.can({ type: 'ui.retry' }))
  const code = failure?.reason ?? 'unreachable'
  const advice = ADVICE[code]
  return (
    <main className="page center" data-testid="call-error" data-code={code} role="alert">
      <h1>{advice.title}</h1>
      <p>{advice.text(maxPeers)}</p>
      {failure?.message && <p className="hint">Server said: {failure.message}</p>}
      <div className="row">
        {advice.retry && (
          <button type="button" className="primary" disabled={!canRetry} onClick={() => call.send({ type: 'ui.retry' })}>
            Try again
          </button>
        )}
        <a className="button" href="/">
          Start a new room
        </a>
      </div>
    </main>
  )
}

export function LeftScreen() {
  return (
    <main className="page center" data-testid="left">
      <h1>You left the call</h1>
      <ReloadOrHome reloadLabel="Rejoin" />
    </main>
  )
}
