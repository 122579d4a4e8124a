/**
 * The simulated network. No real timers: work that the webrtc-pc spec runs
 * "in a queued task" goes on the network's task queue, which a microtask pump
 * drains once the current microtasks have had a few turns; network events
 * that take time (ICE `disconnected` → `failed`) wait for an explicit
 * {@link Network.advance}. Every id comes from a per-network counter, so a
 * schedule replays exactly.
 */
import { openChannels } from './dataChannel'
import { checkConnectivity } from './ice'
import type { SimulatedPeerConnection } from './peerConnection'

/** How many microtask turns the pump lets pass before running a queued task. */
const TURNS_PER_TASK = 4
/** settle() gives up after this many rounds (a livelock is a bug in the test). */
const MAX_SETTLE_ROUNDS = 100_000

/**
 * The network the connections of one test share: ids, the task queue, which
 * labels are cut off from each other, and the connectivity checks.
 */
export class Network {
  private counters = new Map<string, number>()
  readonly pcs: SimulatedPeerConnection[] = []
  private partitions = new Set<string>()
  /** Pairs whose path is dead although ICE has not noticed: data-channel messages are lost, ICE stays as it is. */
  private stalls = new Set<string>()
  private tasks: (() => void)[] = []
  private pumping = false
  private checkQueued = false

  nextId(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1
    this.counters.set(prefix, n)
    return `${prefix}${n}`
  }

  /** Queues a task: it runs after the microtasks pending now have drained. */
  queueTask(task: () => void): void {
    this.tasks.push(task)
    if (!this.pumping) {
      this.pumping = true
      void this.pump()
    }
  }

  private async pump(): Promise<void> {
    while (this.tasks.length > 0) {
      for (let i = 0; i < TURNS_PER_TASK; i++) await Promise.resolve()
      const task = this.tasks.shift()
      task?.()
    }
    this.pumping = false
  }

  async settle(): Promise<void> {
    let idle = 0
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      for (let i = 0; i < TURNS_PER_TASK; i++) await Promise.resolve()
      if (this.tasks.length === 0 && !this.pumping) {
        if (++idle >= 3) return
      } else {
        idle = 0
      }
    }
    throw new Error('simulated network did not settle')
  }

  private key(a: string, b: string): string {
    return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
  }

  isPartitioned(a: string, b: string): boolean {
    return this.partitions.has(this.key(a, b))
  }

  partition(a: string, b: string): void {
    this.partitions.add(this.key(a, b))
    for (const pc of this.pcs) {
      const peer = pc.counterpart()
      if (!peer || !this.isPartitioned(pc.label, peer.label)) continue
      if (pc.iceConnectionState === 'connected') pc.setIceState('disconnected')
    }
  }

  heal(a: string, b: string): void {
    this.partitions.delete(this.key(a, b))
    this.scheduleCheck()
  }

  /**
   * The path between `a` and `b` goes dead without ICE noticing (as
   * libwebrtc takes seconds to): data-channel messages are lost, the ICE
   * state does not change. `unstall` ends it.
   */
  stall(a: string, b: string): void {
    this.stalls.add(this.key(a, b))
  }

  unstall(a: string, b: string): void {
    this.stalls.delete(this.key(a, b))
  }

  /** Whether what `a` sends reaches `b`: not partitioned, not stalled. */
  carries(a: string, b: string): boolean {
    const key = this.key(a, b)
    return !this.partitions.has(key) && !this.stalls.has(key)
  }

  /** Network time passes: what is cut off for a while fails. */
  async advance(): Promise<void> {
    await this.settle()
    for (const pc of this.pcs) {
      if (pc.closed) continue
      const state = pc.iceConnectionState
      if (state === 'disconnected') {
        pc.setIceState('failed')
        continue
      }
      if (state === 'checking') {
        const peer = pc.counterpart()
        if (peer && (peer.closed || this.isPartitioned(pc.label, peer.label))) pc.setIceState('failed')
      }
    }
    this.scheduleCheck()
    await this.settle()
  }

  /** Queues one connectivity check over every connection. */
  scheduleCheck(): void {
    if (this.checkQueued) return
    this.checkQueued = true
    this.queueTask(() => {
      this.checkQueued = false
      for (const pc of this.pcs) checkConnectivity(pc)
      for (const pc of this.pcs) openChannels(pc)
    })
  }

  byFingerprint(fingerprint: string): SimulatedPeerConnection | undefined {
    return this.pcs.find((pc) => pc.fingerprint === fingerprint)
  }
}
