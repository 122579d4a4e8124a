/**
 * The ids the room machine gives its children, for whoever needs to find
 * them again (the inspector's recorder, the bots, the tests).
 */

/** The room machine's own id. */
export const ROOM_ACTOR_ID = 'room'
/** The media actor's id. */
export const MEDIA_ACTOR_ID = 'media'

const PEER_PREFIX = 'peer:'

/** The id of the peer actor for the remote participant `peerId`. */
export function peerActorId(peerId: string): string {
  return `${PEER_PREFIX}${peerId}`
}

/** The remote participant a peer actor's id stands for, or null for any other actor. */
export function peerIdOfActor(actorId: string): string | null {
  return actorId.startsWith(PEER_PREFIX) ? actorId.slice(PEER_PREFIX.length) : null
}
