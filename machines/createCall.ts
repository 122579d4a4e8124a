import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate'
import { roomMachine, type RoomInput } from './roomMachine'

export type CallOptions = RoomInput & {
  /** Connect at once (default true). With false the call waits in `lobby` for `{ type: 'ui.join' }`. */
  join?: boolean
  /** XState's inspection API, for the inspector. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void)
}

export type Call = Actor<typeof roomMachine>

/**
 * Creates and starts a call: the root actor of a room, its local media and
 * one peer actor per other participant.
 *
 * @example
 * // Node, with real libwebrtc and synthetic media:
 * import { createCall } from './machines/createCall'
 * import { nodeWebRTC } from './machines/node/wrtc'
 *
 * const call = createCall({ host: '127.0.0.1:1999', room: 'demo', name: 'Node', webrtc: nodeWebRTC() })
 * call.subscribe((snapshot) => console.log(snapshot.value, Object.keys(snapshot.context.peers)))
 * // later: call.send({ type: 'ui.leave' })
 */
export function createCall({ join = true, inspect, ...input }: CallOptions): Call {
  const actor = createActor(roomMachine, { input, inspect })
  actor.start()
  if (join) actor.send({ type: 'ui.join' })
  return actor
}
