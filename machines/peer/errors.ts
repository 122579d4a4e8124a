/**
 * Failures of the connection's operations, kept as data: each failed
 * WebRTC promise becomes an entry in `errors` (the last 20), and the
 * transition that saw it decides what happens next.
 */
import { assertEvent, assign } from 'xstate'
import { peerSetup, type PeerContext, type PeerError, type PeerEvent } from './types'

const MAX_ERRORS = 20

export const errorActions = {
  /** An operation of the negotiation failed (`where` names it, e.g. `setRemoteDescription(offer)`). */
  recordError: assign<PeerContext, PeerEvent, string, PeerEvent, never>(({ context, event }, where) => {
    const error = 'error' in event ? event.error : event
    const named = typeof error === 'object' && error !== null && 'name' in error && 'message' in error
    const entry: PeerError = {
      at: Date.now(),
      where,
      name: named ? String(error.name) : 'Error',
      message: named ? String(error.message) : String(error),
    }
    context.log.warn('negotiation step failed', { where, name: entry.name, message: entry.message })
    return { errors: [...context.errors, entry].slice(-MAX_ERRORS) }
  }),
  recordTaskFailure: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'task.failed')
    if (event.task === 'task.addCandidate' && event.name === 'OperationError') {
      // A candidate of a description since replaced (rolled back, ignored,
      // or before an ICE restart): dropping it is the right outcome.
      context.log.debug('stale candidate dropped', { message: event.message })
      return { dropped: { ...context.dropped, oldCandidate: context.dropped.oldCandidate + 1 } }
    }
    context.log.warn('connection task failed', { task: event.task, name: event.name, message: event.message })
    if (event.task === 'task.encode') {
      return { encoding: { ...context.encoding, applied: false, error: `${event.name}: ${event.message}` } }
    }
    const entry: PeerError = { at: Date.now(), where: event.task, name: event.name, message: event.message }
    return { errors: [...context.errors, entry].slice(-MAX_ERRORS) }
  }),
  /** A candidate of an offer this side ignored failed to apply, as it should (§10.7's `if (!ignoreOffer) throw`). */
  noteIgnoredTask: peerSetup.createAction(({ context, event }) => {
    assertEvent(event, 'task.ignored')
    context.log.debug('candidate of an ignored offer', { message: event.message })
  }),
}
