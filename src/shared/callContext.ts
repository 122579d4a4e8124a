import { createActorContext } from '@xstate/react'
import { roomMachine } from '../../machines/roomMachine'

/** The call's root actor (the room machine), for every component of the call page. */
export const CallContext = createActorContext(roomMachine)
