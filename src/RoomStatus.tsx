import PartySocket from 'partysocket'
import { useEffect, useState } from 'react'
import { parseServerMessage, PROTOCOL_VERSION, type PeerInfo } from '../protocol/messages'

type Status = { state: 'connecting' } | { state: 'joined'; id: string; peers: PeerInfo[] } | { state: 'error'; message: string }

/** A minimal room view: connects to the room server and lists who is here. */
export function RoomStatus({ room }: { room: string }) {
  const [status, setStatus] = useState<Status>({ state: 'connecting' })
  useEffect(() => {
    const socket = new PartySocket({ host: location.host, room, query: { v: String(PROTOCOL_VERSION) } })
    let peers: PeerInfo[] = []
    let id = ''
    socket.addEventListener('message', (event) => {
      const parsed = parseServerMessage(event.data)
      if (!parsed.ok) return
      const m = parsed.message
      if (m.type === 'welcome') ((id = m.id), (peers = m.peers))
      else if (m.type === 'peer-joined') peers = [...peers, m.peer]
      else if (m.type === 'peer-left') peers = peers.filter((p) => p.id !== m.id)
      else if (m.type === 'error') return setStatus({ state: 'error', message: `${m.code}: ${m.message}` })
      else return
      setStatus({ state: 'joined', id, peers })
    })
    return () => socket.close()
  }, [room])

  return (
    <main style={{ fontFamily: 'system-ui', padding: '2rem' }}>
      <h1>meshcall · {room}</h1>
      {status.state === 'connecting' && <p data-testid="room-status">Connecting to the room server…</p>}
      {status.state === 'error' && <p data-testid="room-status">{status.message}</p>}
      {status.state === 'joined' && (
        <>
          <p data-testid="room-status">
            Joined as <code>{status.id}</code> with {status.peers.length} other{status.peers.length === 1 ? '' : 's'}.
          </p>
          <ul>
            {status.peers.map((p) => (
              <li key={p.id}>{p.presence.name}</li>
            ))}
          </ul>
        </>
      )}
    </main>
  )
}
