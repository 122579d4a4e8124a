/** The simulated `getStats()`: one transport and its selected candidate pair. */
import type { SimulatedPeerConnection } from './peerConnection'

/** A Map, which is what an RTCStatsReport is to its readers (a maplike). */
export function statsReport(pc: SimulatedPeerConnection): Map<string, Record<string, unknown>> {
  const connected = pc.iceConnectionState === 'connected'
  const report = new Map<string, Record<string, unknown>>()
  report.set('T01', {
    id: 'T01',
    type: 'transport',
    timestamp: 0,
    dtlsState: pc.closed ? 'closed' : connected ? 'connected' : 'new',
    iceState: pc.iceConnectionState,
    selectedCandidatePairId: 'CP01',
  })
  report.set('CP01', {
    id: 'CP01',
    type: 'candidate-pair',
    timestamp: 0,
    transportId: 'T01',
    state: connected ? 'succeeded' : pc.iceConnectionState === 'failed' ? 'failed' : 'in-progress',
    nominated: true,
    currentRoundTripTime: 0.001,
    availableOutgoingBitrate: 10_000_000,
  })
  return report
}
