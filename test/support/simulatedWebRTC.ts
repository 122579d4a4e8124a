/**
 * A fast, deterministic simulated WebRTC for tests.
 *
 * No real timers: work that the webrtc-pc spec runs "in a queued task" goes on
 * the network's task queue, which a microtask pump drains once the current
 * microtasks have had a few turns; network events that take time (ICE
 * `disconnected` → `failed`) wait for an explicit {@link SimulatedNetwork.advance}.
 * Every id comes from a per-network counter, so a schedule replays exactly.
 *
 * What is modelled (what the peer machine relies on):
 * - signaling states, `setLocalDescription()` without argument, rollback,
 *   implicit rollback, and one operations chain per connection;
 * - the negotiation-needed flag and event as webrtc-pc specifies them;
 * - a small SDP dialect (m-lines with mid, kind, direction, msid, ICE
 *   credentials, fingerprint, setup) that round-trips through JSON;
 * - transceivers, senders, receivers, `track` events and remote streams;
 * - ICE: one host candidate per generation, ufrag checks in
 *   `addIceCandidate`, connectivity between labels that can be partitioned;
 * - data channels (negotiated and in-band), getUserMedia & co, getStats.
 *
 * The parts live in `./simulated/`, one file each; this module puts them
 * together as one {@link WebRTCImpl} per endpoint.
 */
import type { WebRTCImpl } from '../../machines/webrtc'
import { simulatedDevices, type DeviceMode } from './simulated/devices'
import { SimulatedMediaStream } from './simulated/media'
import { Network } from './simulated/network'
import { SimulatedPeerConnection } from './simulated/peerConnection'

/** A network of simulated endpoints, and the test's controls over it. */
export type SimulatedNetwork = {
  /** The WebRTC implementation of one endpoint; its connections belong to `label`. */
  webrtc(label: string, options?: { devices?: DeviceMode }): WebRTCImpl
  /** ICE between labels `a` and `b` breaks: connected pcs go `disconnected` now, `failed` at the next advance(). */
  partition(a: string, b: string): void
  heal(a: string, b: string): void
  /** The path goes dead without ICE noticing: data-channel messages are lost, until `unstall`. */
  stall(a: string, b: string): void
  unstall(a: string, b: string): void
  /** Runs the scheduled network events (disconnected → failed, …), then settles. */
  advance(): Promise<void>
  /** Runs microtasks and queued tasks until nothing is pending. */
  settle(): Promise<void>
  /** Every connection created on this network (or by one label), in creation order. */
  connections(label?: string): SimulatedPeerConnection[]
}

/** A new simulated network, with no connections on it. */
export function createSimulatedNetwork(): SimulatedNetwork {
  const net = new Network()
  return {
    webrtc: (label, options) => createImpl(net, label, options?.devices ?? 'all'),
    partition: (a, b) => net.partition(a, b),
    heal: (a, b) => net.heal(a, b),
    stall: (a, b) => net.stall(a, b),
    unstall: (a, b) => net.unstall(a, b),
    advance: () => net.advance(),
    settle: () => net.settle(),
    connections: (label) => net.pcs.filter((pc) => label === undefined || pc.label === label),
  }
}

function createImpl(net: Network, label: string, devices: DeviceMode): WebRTCImpl {
  class PeerConnection extends SimulatedPeerConnection {
    constructor(configuration?: RTCConfiguration) {
      super(net, label, configuration)
    }
  }
  class Stream extends SimulatedMediaStream {
    constructor() {
      super(net)
    }
  }
  return { RTCPeerConnection: PeerConnection, MediaStream: Stream, ...simulatedDevices(net, devices) }
}
