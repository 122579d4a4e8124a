/**
 * Connection numbers for the inspector, read from `getStats()`: bitrates,
 * round-trip time, loss, jitter, frame rate and the selected candidate pair.
 * {@link sampleFrom} is pure, so every rule is testable on hand-made
 * reports; {@link pollStats} is the small impure loop around it.
 *
 * Field names follow webrtc-stats (W3C "Identifiers for WebRTC's Statistics
 * API"); the older names libwebrtc and Firefox still use are read as well.
 */
import type { PeerConnectionLike, StatsReportLike } from '../webrtc'

export type CandidatePairSummary = {
  /** `host`, `srflx`, `prflx` or `relay`. */
  localType: string
  remoteType: string
  /** The local candidate's transport: `udp` or `tcp`. */
  protocol: string
  localAddress?: string
  remoteAddress?: string
  /** For a local relay candidate, how this side reaches the TURN server: `udp`, `tcp` or `tls`. */
  relayProtocol?: string
}

/** One point of the inspector's charts. Every rate is over the interval since the previous snapshot. */
export type StatsSample = {
  /** When the sample was taken, ms since the epoch. */
  t: number
  /** Outgoing media bitrate, bit/s: the sum of every outbound-rtp `bytesSent`. */
  outBps: number | null
  /** Incoming media bitrate, bit/s: the sum of every inbound-rtp `bytesReceived`. */
  inBps: number | null
  /** The selected pair's `currentRoundTripTime`, else the mean remote-inbound-rtp `roundTripTime`, in ms. */
  rttMs: number | null
  /** Inbound packets lost over the interval, as a percentage of those expected. */
  lossPct: number | null
  /** Inbound-rtp `jitter` in ms: the worst video stream, else the worst audio stream. */
  jitterMs: number | null
  /** Frames decoded per second by the busiest inbound video stream. */
  fps: number | null
  /** Incoming audio packets per second, every inbound audio stream together (Opus sends 50 a second). */
  audioPps: number | null
  /** Outgoing video bitrate, bit/s: outbound-rtp `bytesSent` of the video streams only. */
  videoOutBps: number | null
  pair: CandidatePairSummary | null
}

/** What is kept from one `getStats()`: the stats {@link sampleFrom} reads, by id. */
export type StatsSnapshot = { t: number; stats: Map<string, Record<string, unknown>> }

type Stat = Record<string, unknown>
type Entry = [id: string, stat: Stat]

const KEPT_TYPES = new Set([
  'inbound-rtp',
  'outbound-rtp',
  'remote-inbound-rtp',
  'candidate-pair',
  'local-candidate',
  'remote-candidate',
  'transport',
])

/**
 * The members {@link sampleFrom} reads. A full inbound-rtp stat has some
 * fifty; copying only these keeps a poll of every peer each second cheap.
 */
const KEPT_KEYS = [
  'id',
  'type',
  'kind',
  'mediaType',
  'bytesSent',
  'bytesReceived',
  'framesDecoded',
  'packetsReceived',
  'packetsLost',
  'jitter',
  'roundTripTime',
  'currentRoundTripTime',
  'selectedCandidatePairId',
  'nominated',
  'selected',
  'state',
  'localCandidateId',
  'remoteCandidateId',
  'candidateType',
  'protocol',
  'relayProtocol',
  'address',
  'ip',
  'port',
] as const

/**
 * Keeps the stats {@link sampleFrom} reads from a report, as plain objects
 * (an `RTCStatsReport` is a live-looking maplike; the copies are data).
 */
export function toSnapshot(report: StatsReportLike | Map<string, unknown>, t: number): StatsSnapshot {
  const stats = new Map<string, Stat>()
  report.forEach((value: unknown, id: string) => {
    if (!isStat(value) || typeof value.type !== 'string' || !KEPT_TYPES.has(value.type)) return
    const copy: Stat = {}
    for (const key of KEPT_KEYS) if (value[key] !== undefined) copy[key] = value[key]
    stats.set(id, copy)
  })
  return { t, stats }
}

/**
 * The sample for `current`, with rates over the interval since `previous`.
 * Without a previous snapshot (the first poll) the rates, loss and frame rate
 * are null; round-trip time, jitter and the pair are read from `current` alone.
 *
 * @example
 * ```ts
 * let previous: StatsSnapshot | null = null
 * const current = toSnapshot(await pc.getStats(), Date.now())
 * const sample = sampleFrom(previous, current, current.t)
 * previous = current
 * ```
 */
export function sampleFrom(previous: StatsSnapshot | null, current: StatsSnapshot, t: number): StatsSample {
  const seconds = previous ? (current.t - previous.t) / 1000 : 0
  const before = seconds > 0 ? previous : null
  const inbound = ofType(current, 'inbound-rtp')
  const video = inbound.filter(([, stat]) => kindOf(stat) === 'video')
  const audio = inbound.filter(([, stat]) => kindOf(stat) === 'audio')

  const perSecond = (streams: Entry[], key: string, combine: (values: number[]) => number) => {
    if (before === null) return null
    const increases = streams.map(([id, stat]) => increase(before.stats.get(id), stat, key)).filter(isNumber)
    return increases.length === 0 ? null : combine(increases) / seconds
  }
  const bitsPerSecond = (streams: Entry[], key: string) => {
    const bytes = perSecond(streams, key, sum)
    return bytes === null ? null : bytes * 8
  }
  const outbound = ofType(current, 'outbound-rtp')

  return {
    t,
    outBps: bitsPerSecond(outbound, 'bytesSent'),
    inBps: bitsPerSecond(inbound, 'bytesReceived'),
    rttMs: roundTripMs(current),
    lossPct: before === null ? null : lossOver(before, inbound),
    jitterMs: worstJitterMs(video) ?? worstJitterMs(audio),
    fps: perSecond(video, 'framesDecoded', (values) => Math.max(...values)),
    audioPps: perSecond(audio, 'packetsReceived', sum),
    videoOutBps: bitsPerSecond(
      outbound.filter(([, stat]) => kindOf(stat) === 'video'),
      'bytesSent',
    ),
    pair: pairSummary(current),
  }
}

/**
 * Polls `pc.getStats()` every `intervalMs` and hands each sample to
 * `onSample`; the first comes at once, with null rates. Polls never overlap.
 * Returns a function that stops polling.
 *
 * Never throws: a failed `getStats()` skips one sample, and a closed
 * connection stops the polling quietly.
 */
export function pollStats(pc: PeerConnectionLike, onSample: (sample: StatsSample) => void, intervalMs = 1000): () => void {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let previous: StatsSnapshot | null = null

  const closed = () => pc.signalingState === 'closed' || pc.connectionState === 'closed'
  const poll = async () => {
    if (stopped) return
    if (closed()) {
      stopped = true
      return
    }
    let report: StatsReportLike | undefined
    try {
      report = await pc.getStats()
    } catch {
      // webrtc-pc getStats(): rejects InvalidStateError once closed; the
      // check at the next tick then stops. Other failures lose one sample.
    }
    if (stopped) return
    if (report) {
      const current = toSnapshot(report, Date.now())
      const sample = sampleFrom(previous, current, current.t)
      previous = current
      try {
        onSample(sample)
      } catch (error) {
        // The caller's bug: report it as uncaught, and keep polling.
        queueMicrotask(() => {
          throw error
        })
      }
    }
    if (!stopped) timer = setTimeout(() => void poll(), intervalMs)
  }

  void poll()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

/**
 * How far a counter rose since the previous snapshot, never negative.
 * webrtc-stats creates an RTP stream's stats at its first packet and gives
 * each SSRC its own id, so a stream without previous stats (a new SSRC after
 * renegotiation) started within the interval: it counts from zero. So does a
 * counter that went down, having been reset within the interval.
 */
function increase(previous: Stat | undefined, current: Stat, key: string): number | null {
  const now = numberIn(current, key)
  if (now === null) return null
  const then = numberIn(previous, key)
  return then === null || now < then ? now : now - then
}

/**
 * Loss over the interval: lost / (lost + received), summed over inbound
 * streams. `packetsLost` is expected minus received (RFC 3550 section 6.4.1),
 * so duplicates can make it fall; a fall counts as no loss.
 */
function lossOver(previous: StatsSnapshot, inbound: Entry[]): number | null {
  let lost = 0
  let received = 0
  let measured = false
  for (const [id, stat] of inbound) {
    const before = previous.stats.get(id)
    const receivedNow = numberIn(stat, 'packetsReceived')
    const lostNow = numberIn(stat, 'packetsLost')
    if (receivedNow === null || lostNow === null) continue
    measured = true
    const receivedThen = numberIn(before, 'packetsReceived')
    // A stream that is new or whose counters restarted (see increase) has lost nothing before.
    if (receivedThen === null || receivedNow < receivedThen) {
      received += receivedNow
      lost += Math.max(0, lostNow)
    } else {
      received += receivedNow - receivedThen
      lost += Math.max(0, lostNow - (numberIn(before, 'packetsLost') ?? 0))
    }
  }
  if (!measured || lost + received === 0) return null
  return (lost / (lost + received)) * 100
}

function worstJitterMs(streams: Entry[]): number | null {
  const values = streams.map(([, stat]) => numberIn(stat, 'jitter')).filter(isNumber)
  return values.length === 0 ? null : Math.max(...values) * 1000
}

function roundTripMs(snapshot: StatsSnapshot): number | null {
  const pairRtt = numberIn(selectedPair(snapshot), 'currentRoundTripTime')
  if (pairRtt !== null) return pairRtt * 1000
  // Firefox's candidate pairs have no currentRoundTripTime; the RTCP-based
  // round trip of what we send is the next best measure.
  const rtts = ofType(snapshot, 'remote-inbound-rtp')
    .map(([, stat]) => numberIn(stat, 'roundTripTime'))
    .filter(isNumber)
  return rtts.length === 0 ? null : (sum(rtts) / rtts.length) * 1000
}

/**
 * The pair ICE is using: the transport's `selectedCandidatePairId`, else a
 * candidate pair that is `nominated` and `succeeded` (the one with most bytes
 * if several), else Firefox's non-standard `selected` flag. Firefox reports no
 * transport stats, and libwebrtc leaves `selectedCandidatePairId` out until
 * a pair is selected.
 */
function selectedPair(snapshot: StatsSnapshot): Stat | undefined {
  for (const [, transport] of ofType(snapshot, 'transport')) {
    const id = transport.selectedCandidatePairId
    const pair = typeof id === 'string' ? snapshot.stats.get(id) : undefined
    if (pair) return pair
  }
  const pairs = ofType(snapshot, 'candidate-pair').map(([, pair]) => pair)
  const nominated = pairs.filter((pair) => pair.nominated === true && pair.state === 'succeeded').sort((a, b) => bytesOf(b) - bytesOf(a))
  return nominated[0] ?? pairs.find((pair) => pair.selected === true)
}

/** The candidate pair ICE is using, by type and transport, or null before one is selected. */
export function pairSummary(snapshot: StatsSnapshot): CandidatePairSummary | null {
  const pair = selectedPair(snapshot)
  if (!pair) return null
  const local = statById(snapshot, pair.localCandidateId)
  const remote = statById(snapshot, pair.remoteCandidateId)
  const localType = stringIn(local, 'candidateType')
  const remoteType = stringIn(remote, 'candidateType')
  const protocol = stringIn(local, 'protocol') ?? stringIn(remote, 'protocol')
  if (localType === null || remoteType === null || protocol === null) return null
  const summary: CandidatePairSummary = { localType, remoteType, protocol }
  const localAddress = addressOf(local)
  const remoteAddress = addressOf(remote)
  if (localAddress !== null) summary.localAddress = localAddress
  if (remoteAddress !== null) summary.remoteAddress = remoteAddress
  const relayProtocol = localType === 'relay' ? stringIn(local, 'relayProtocol') : null
  if (relayProtocol !== null) summary.relayProtocol = relayProtocol
  return summary
}

/** `address:port`; webrtc-stats renamed `ip` to `address`, and older browsers have only `ip`. */
function addressOf(candidate: Stat | undefined): string | null {
  const address = stringIn(candidate, 'address') ?? stringIn(candidate, 'ip')
  if (address === null) return null
  const port = numberIn(candidate, 'port')
  const host = address.includes(':') ? `[${address}]` : address
  return port === null ? address : `${host}:${port}`
}

/** Stats of one type with their ids; a stat's id is its key in the report. */
function ofType(snapshot: StatsSnapshot, type: string): Entry[] {
  return [...snapshot.stats].filter(([, stat]) => stat.type === type)
}

function statById(snapshot: StatsSnapshot, id: unknown): Stat | undefined {
  return typeof id === 'string' ? snapshot.stats.get(id) : undefined
}

/** `kind` in current webrtc-stats; libwebrtc before M107 called it `mediaType`. */
function kindOf(stat: Stat): string | null {
  return stringIn(stat, 'kind') ?? stringIn(stat, 'mediaType')
}

function bytesOf(pair: Stat): number {
  return (numberIn(pair, 'bytesSent') ?? 0) + (numberIn(pair, 'bytesReceived') ?? 0)
}

function numberIn(stat: Stat | undefined, key: string): number | null {
  const value = stat?.[key]
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function stringIn(stat: Stat | undefined, key: string): string | null {
  const value = stat?.[key]
  return typeof value === 'string' && value !== '' ? value : null
}

function isStat(value: unknown): value is Stat {
  return typeof value === 'object' && value !== null
}

function isNumber(value: number | null): value is number {
  return value !== null
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0)
}
