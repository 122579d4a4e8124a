import type { ActorRefFrom } from 'xstate'
import type { roomMachine } from '../roomMachine'
import type { PeerConnectionLike } from '../webrtc'
import type { Recorder } from './recorder'
import { pollStats } from './stats'

/**
 * Polls getStats() once a second for every peer of the call, following
 * peers as they come and go and connections as they are replaced, and feeds
 * the samples to the recorder. Returns a function that stops it all.
 */
export function watchStats(call: ActorRefFrom<typeof roomMachine>, recorder: Recorder, intervalMs = 1_000): () => void {
  const polls = new Map<string, { pc: PeerConnectionLike; stop: () => void }>()
  const sync = () => {
    const peers = call.getSnapshot().context.peers
    for (const [peerId, poll] of polls) {
      const ref = peers[peerId]
      if (!ref || ref.getSnapshot().context.link.pc !== poll.pc) {
        poll.stop()
        polls.delete(peerId)
      }
    }
    for (const [peerId, ref] of Object.entries(peers)) {
      const pc = ref.getSnapshot().context.link.pc
      if (polls.has(peerId)) continue
      polls.set(peerId, { pc, stop: pollStats(pc, (sample) => recorder.recordStats(peerId, sample), intervalMs) })
    }
  }
  sync()
  // A replaced connection shows in the peer's snapshot, not the room's: recheck each second too.
  const subscription = call.subscribe(sync)
  const timer = setInterval(sync, intervalMs)
  return () => {
    subscription.unsubscribe()
    clearInterval(timer)
    for (const poll of polls.values()) poll.stop()
    polls.clear()
  }
}
