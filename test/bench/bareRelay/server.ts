import type * as Party from 'partykit/server'

/**
 * The bench's bare relay: the least a room server can do to carry
 * signaling. On connect it tells the newcomer who is there and the others
 * who came; `{to, data}` goes to that connection as `{from, data}`. No
 * validation, no limits, no auth, no hibernation: the anchor meshcall's
 * room server is measured against (test/bench/mesh.ts). Never deployed.
 */
export default class BareRelay implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onConnect(connection: Party.Connection) {
    const peers = [...this.room.getConnections()].map((c) => c.id).filter((id) => id !== connection.id)
    connection.send(JSON.stringify({ type: 'welcome', id: connection.id, peers }))
    this.room.broadcast(JSON.stringify({ type: 'joined', id: connection.id }), [connection.id])
  }

  onRequest() {
    return new Response('bare relay')
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    if (typeof message !== 'string') return
    const { to, data } = JSON.parse(message) as { to: string; data: unknown }
    this.room.getConnection(to)?.send(JSON.stringify({ type: 'signal', from: sender.id, data }))
  }
}
