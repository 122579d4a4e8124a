import { createActorContext } from '@xstate/react'
import type { SnapshotFrom } from 'xstate'
import { roomMachine } from '../../machines/roomMachine'
import type { PeerTag } from '../../machines/peer/types'
import type { peerMachine } from '../../machines/peerMachine'

/** The call's root actor (the room machine), for every component of the call page. */
export const CallContext = createActorContext(roomMachine)

/** The connection badge of a peer, from its machine's tags (typed by the machine, so a misspelt tag does not compile). */
export function peerTag(snapshot: SnapshotFrom<typeof peerMachine>): PeerTag {
  if (snapshot.hasTag('connected')) return 'connected'
  if (snapshot.hasTag('reconnecting')) return 'reconnecting'
  if (snapshot.hasTag('failed')) return 'failed'
  return 'connecting'
}
