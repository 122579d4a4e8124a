import { useEffect, useMemo, useState } from 'react'
import { createLogger } from '../../../lib/log'
import { browserWebRTC } from '../../../machines/browser'
import { isValidRoomName } from '../../../protocol/messages'
import type { AppConfig } from '../../config'
import { CallError, LeftScreen } from '../../features/call/CallError'
import { takeJoinToken } from '../../features/call/joinToken'
import { loadResume, saveResume } from '../../features/call/resume'
import { loadVideoQuality } from '../../shared/videoQuality'
import { Lobby } from '../../features/lobby/Lobby'
import { loadName } from '../../features/lobby/displayName'
import { loadRelayOnly } from '../../features/lobby/relayOnly'
import { CallContext } from '../../shared/callContext'
import { watchStats } from '../../../machines/inspect/watchStats'
import { createInspection, RecorderContext, useRecorder } from '../../shared/inspection'
import { InCall } from './InCall'
import { i18n } from '../../i18n'

/** `/r/:room`: the lobby, then the call, for one room. */
export function CallPage({ room, config }: { room: string; config: AppConfig }) {
  const input = useMemo(
    () => ({
      host: config.host,
      secure: config.secure,
      room,
      name: loadName(),
      token: takeJoinToken(room),
      resume: loadResume(room),
      videoQuality: loadVideoQuality(location.search),
      relayOnly: loadRelayOnly(),
      webrtc: browserWebRTC(),
      log: createLogger({ level: logLevel() }),
    }),
    [room, config],
  )
  // One recorder for the page's life: App mounts a new CallPage for each room.
  const [inspection] = useState(() => createInspection(location.search))
  if (!isValidRoomName(room)) {
    return (
      <main className="page center">
        <h1>{i18n.t('badRoom.title')}</h1>
        <p>{i18n.t('badRoom.text')}</p>
        <a href="/">{i18n.t('badRoom.link')}</a>
      </main>
    )
  }
  return (
    <RecorderContext.Provider value={inspection.recorder}>
      <CallContext.Provider options={{ input, inspect: inspection.inspect }}>
        <CallView />
      </CallContext.Provider>
    </RecorderContext.Provider>
  )
}

function CallView() {
  const call = CallContext.useActorRef()
  const recorder = useRecorder()
  // Stats are polled whether or not the inspector is open, so an export
  // holds the last five minutes of them.
  useEffect(() => watchStats(call, recorder), [call, recorder])
  const phase = CallContext.useSelector((s) =>
    s.matches('lobby') ? 'lobby' : s.matches('failed') ? 'failed' : s.matches('left') ? 'left' : 'call',
  )
  // Closing or reloading the tab leaves at once, so nobody sees a ghost tile
  // for the grace period.
  useEffect(() => {
    const leave = () => call.send({ type: 'ui.leave' })
    window.addEventListener('pagehide', leave)
    return () => window.removeEventListener('pagehide', leave)
  }, [call])
  // Remember this tab's identity, so a reload resumes it if the bye sent on
  // pagehide did not make it out. (Only the Leave button forgets it: pagehide
  // also ends in `left`, and the reload must still find it.)
  const selfId = CallContext.useSelector((s) => s.context.selfId)
  const secret = CallContext.useSelector((s) => s.context.secret)
  const room = CallContext.useSelector((s) => s.context.room)
  useEffect(() => {
    if (selfId && secret) saveResume(room, { id: selfId, secret })
  }, [selfId, secret, room])

  switch (phase) {
    case 'lobby':
      return <Lobby />
    case 'failed':
      return <CallError />
    case 'left':
      return <LeftScreen />
    case 'call':
      return <InCall />
  }
}

/** `?log=debug` (or localStorage `meshcall.log` = `debug`) shows every negotiation step in the console. */
function logLevel(): 'debug' | 'info' {
  const asked = new URLSearchParams(location.search).get('log') ?? safeStorage('meshcall.log')
  return asked === 'debug' ? 'debug' : 'info'
}

function safeStorage(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}
