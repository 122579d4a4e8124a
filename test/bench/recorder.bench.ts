import { beforeAll, bench, describe } from 'vitest'
import type { InspectionEvent } from 'xstate'
import { createRecorder } from '../../machines/inspect/recorder'
import type { LocalTracks } from '../../machines/localTracks'
import { createPeerPair } from '../support/peerPair'
import { createSimulatedNetwork } from '../support/simulatedWebRTC'
import { waitUntil } from '../support/wait'

// What the inspector costs a call: the inspection events of a whole
// negotiation (two peers, tracks, data channel, until connected), fed to a
// fresh recorder. A call produces a few hundred such events a minute.
let events: InspectionEvent[] = []

beforeAll(async () => {
  const network = createSimulatedNetwork()
  const webrtc = { a: network.webrtc('a'), b: network.webrtc('b') }
  const tracks = async (w: typeof webrtc.a): Promise<LocalTracks> => {
    const stream = await w.getUserMedia({ audio: true, video: true })
    return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0], screenStream: null, screen: null }
  }
  const captured: InspectionEvent[] = []
  const pair = createPeerPair({
    webrtc,
    tracks: { a: await tracks(webrtc.a), b: await tracks(webrtc.b) },
    inspect: (e) => captured.push(e),
  })
  pair.setAuto('a', true)
  pair.setAuto('b', true)
  await waitUntil(() => pair.refs.a.getSnapshot().hasTag('connected') && pair.refs.b.getSnapshot().hasTag('connected'))
  events = captured
  console.log(`one negotiation: ${events.length} inspection events`)
  pair.stop()
})

describe('inspector recorder', () => {
  bench(`record one negotiation (all its inspection events)`, () => {
    const recorder = createRecorder()
    for (const event of events) recorder.inspect(event)
  })
})
