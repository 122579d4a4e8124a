/** Data channels, and how they open once both sides have SCTP (RFC 8832 for in-band ones). */
import { defineHandlers, SimEventTarget, type Handler } from './eventTarget'
import type { SimulatedPeerConnection } from './peerConnection'

/** An RTCDataChannel; messages cross to the peer's channel as queued tasks. */
export class SimulatedDataChannel extends SimEventTarget {
  declare onopen: Handler
  declare onclose: Handler
  declare onclosing: Handler
  declare onmessage: Handler
  declare onerror: Handler
  declare onbufferedamountlow: Handler
  static {
    defineHandlers(this.prototype, ['open', 'close', 'closing', 'message', 'error', 'bufferedamountlow'])
  }

  readonly label: string
  readonly ordered: boolean
  readonly negotiated: boolean
  readonly protocol: string
  readonly maxRetransmits: number | null
  readonly maxPacketLifeTime: number | null
  id: number | null
  readyState: RTCDataChannelState = 'connecting'
  binaryType: BinaryType = 'arraybuffer'
  bufferedAmount = 0
  bufferedAmountLowThreshold = 0
  /** The channel on the other connection, once open. */
  peer: SimulatedDataChannel | null = null
  /** In-band channels: announced to the remote side. */
  announced = false

  constructor(
    private pc: SimulatedPeerConnection,
    label: string,
    init: RTCDataChannelInit,
  ) {
    super()
    this.label = label
    this.ordered = init.ordered ?? true
    this.negotiated = init.negotiated ?? false
    this.protocol = init.protocol ?? ''
    this.maxRetransmits = init.maxRetransmits ?? null
    this.maxPacketLifeTime = init.maxPacketLifeTime ?? null
    this.id = init.id ?? null
  }

  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void {
    if (this.readyState !== 'open') throw new DOMException(`RTCDataChannel.readyState is '${this.readyState}'`, 'InvalidStateError')
    const peer = this.peer
    if (!peer) return
    this.pc.net.queueTask(() => {
      // Lost while the path is cut or stalled: the simulation does not retransmit.
      if (peer.readyState !== 'open' || !this.pc.net.carries(this.pc.label, peer.pc.label)) return
      peer.dispatchEvent(new MessageEvent('message', { data }))
    })
  }

  open(peer: SimulatedDataChannel): void {
    if (this.readyState !== 'connecting') return
    this.peer = peer
    this.readyState = 'open'
    this.fire('open')
  }

  close(): void {
    if (this.readyState === 'closing' || this.readyState === 'closed') return
    this.readyState = 'closing'
    const peer = this.peer
    this.pc.net.queueTask(() => {
      this.closed(true)
      peer?.remoteClosed()
    })
  }

  /** The other side closed its end. */
  remoteClosed(): void {
    if (this.readyState === 'closed') return
    this.readyState = 'closing'
    this.pc.net.queueTask(() => this.closed(true))
  }

  /** Closed now; `fireEvent` false for pc.close(), which fires no events. */
  closed(fireEvent: boolean): void {
    if (this.readyState === 'closed') return
    this.readyState = 'closed'
    if (fireEvent) this.fire('close')
  }
}

/** Opens the data channels that both sides have, once the connection is up. */
export function openChannels(pc: SimulatedPeerConnection): void {
  if (pc.closed || pc.iceConnectionState !== 'connected') return
  const peer = pc.counterpart()
  if (!peer || peer.iceConnectionState !== 'connected' || peer.counterpart() !== pc) return
  const sctp = (side: SimulatedPeerConnection) =>
    side.currentLocalDescription?.parsed.sections.some((s) => s.kind === 'application' && !s.rejected) ?? false
  if (!sctp(pc) || !sctp(peer)) return
  for (const channel of pc.channels) {
    if (channel.readyState !== 'connecting') continue
    if (!channel.negotiated && !channel.announced) {
      // In-band (DCEP): the other side gets a datachannel event.
      channel.announced = true
      if (channel.id === null) channel.id = nextStreamId(pc)
      const remote = new SimulatedDataChannel(peer, channel.label, {
        id: channel.id,
        ordered: channel.ordered,
        protocol: channel.protocol,
        negotiated: false,
      })
      remote.announced = true
      peer.channels.push(remote)
      channel.open(remote)
      remote.open(channel)
      peer.fire('datachannel', { channel: remote })
      continue
    }
    if (!channel.negotiated) continue
    const match = peer.channels.find((c) => c.negotiated && c.id === channel.id && c.readyState === 'connecting')
    if (!match) continue
    channel.open(match)
    match.open(channel)
  }
}

function nextStreamId(pc: SimulatedPeerConnection): number {
  // DTLS client (setup:active, the answerer) takes even ids, server odd.
  const odd = pc.currentLocalDescription?.parsed.setup !== 'active'
  let id = odd ? 1 : 0
  while (pc.channels.some((c) => c.id === id)) id += 2
  return id
}
