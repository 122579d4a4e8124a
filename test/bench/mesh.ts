/**
 * Mesh formation, relay latency, CPU and bundle size, each beside its anchor
 * measured in the same run, as a ratio: absolute times on a shared 2-core
 * machine drift from run to run, ratios taken side by side hold.
 *
 * Mesh formation (N = 2, 4, 6): from the start until every participant has
 * a video frame from every other one, with the same media for all (one
 * synthetic 320×240 camera at 15 fps, a data channel per pair), for
 * - the floor: libwebrtc in this process, the pairs' descriptions and
 *   candidates handed over by direct calls, no server;
 * - simple-peer over a bare relay: simple-peer 9 (only the newcomer offers,
 *   so no glare to resolve) through `bareRelay/`, a PartyKit party that only
 *   forwards;
 * - meshcall: the room machine (the bots' code) over the real room server.
 * Each run also counts the signaling frames and bytes each pair sent.
 *
 * CPU (N = 4, 6): participants sending 640×480 at 30 fps for a while after
 * the mesh formed; CPU seconds of this process per participant-second, for
 * meshcall (whose senders scale to the mesh) and simple-peer (full
 * resolution to everyone).
 *
 * Relay: one-way latency of a candidate-sized and a 6 KB signal, p50 and
 * p99, through the room server (validation, limits and auth on) and through
 * the bare relay, paced under the rate limit.
 *
 * Bundle: the call page's initial JavaScript and the inspector's chunk,
 * gzipped, from the production build.
 *
 * Run: `npm run bench` (or `npx tsx test/bench/mesh.ts [--runs 5] [--sizes 2,4,6] [--cpu-seconds 20]`).
 * Writes `bench/results/mesh.json`.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import { WebSocket } from 'ws'
import { silentLogger } from '../../lib/log'
import { createCall, type Call } from '../../machines/createCall'
import { nodeWebRTC } from '../../machines/node/wrtc'
import { stopAllSynthetic, syntheticMedia } from '../../machines/node/syntheticMedia'
import { mintToken } from '../../party/auth'
import type { SignalData } from '../../protocol/messages'
import { ensureAppBuilt } from '../support/appServer'
import { startRoomServer, type RoomServer } from '../support/roomServer'
import { TestClient } from '../support/wsClient'
import { median, percentile, ratio, writeResults, type Row } from './results'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    sizes: { type: 'string', default: '2,4,6' },
    'cpu-sizes': { type: 'string', default: '4,6' },
    'cpu-seconds': { type: 'string', default: '20' },
    'relay-samples': { type: 'string', default: '200' },
  },
})
const RUNS = Number(values.runs)
const SIZES = values.sizes.split(',').map(Number)
const CPU_SIZES = values['cpu-sizes'].split(',').filter(Boolean).map(Number)
const CPU_SECONDS = Number(values['cpu-seconds'])
const RELAY_SAMPLES = Number(values['relay-samples'])
const ROOT = new URL('../..', import.meta.url).pathname
const AUTH_SECRET = 'bench-auth-secret-of-some-length'
const FORMATION_TIMEOUT_MS = 60_000

type Camera = { width: number; height: number; fps: number }
const SMALL: Camera = { width: 320, height: 240, fps: 15 }
const VGA: Camera = { width: 640, height: 480, fps: 30 }

const log = (line: string) => process.stderr.write(`bench mesh: ${line}\n`)

// ---------------------------------------------------------------------------
// What every implementation is watched by: each RTCPeerConnection it makes,
// the first video frame each one receives, and the signaling it sends.

type Watch = {
  firstFrame: Map<RTCPeerConnection, number>
  signals: { frames: number; bytes: number }
  changed: () => void
}

function newWatch(changed: () => void = () => undefined): Watch {
  return { firstFrame: new Map(), signals: { frames: 0, bytes: 0 }, changed }
}

/** `Base`, with every instance reporting its first received video frame to `watch`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's constructor must take any[]
type ConnectionClass = new (...args: any[]) => RTCPeerConnection

function watchedConnection<T extends ConnectionClass>(Base: T, watch: Watch): T {
  return class extends Base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see ConnectionClass
    constructor(...args: any[]) {
      super(...args)
      this.addEventListener('track', (event) => {
        const { track } = event as RTCTrackEvent
        if (track.kind !== 'video') return
        const sink = new wrtc.nonstandard.RTCVideoSink(track)
        sink.onframe = () => {
          sink.stop()
          if (!watch.firstFrame.has(this)) watch.firstFrame.set(this, performance.now())
          watch.changed()
        }
      })
    }
  }
}

/** A WebSocket counting what it sends that `isSignal` calls signaling. */
function countingWebSocket(watch: Watch, isSignal: (frame: string) => boolean): typeof WebSocket {
  return class extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols)
      const send = this.send.bind(this) as (...a: unknown[]) => void
      this.send = ((data: unknown, ...rest: unknown[]) => {
        const frame = String(data)
        if (isSignal(frame)) {
          watch.signals.frames++
          watch.signals.bytes += Buffer.byteLength(frame)
        }
        send(data, ...rest)
      }) as WebSocket['send']
    }
  } as typeof WebSocket
}

type Formation = { ms: number; framesPerPair: number; bytesPerPair: number }
type Participants = { currentConnections(): RTCPeerConnection[]; stop(): Promise<void> }

/** Starts `start` at t0 and resolves when every current connection has a frame. */
async function formation(n: number, start: (watch: Watch) => Promise<Participants> | Participants): Promise<Formation> {
  const box: { participants?: Participants } = {}
  let resolveDone!: () => void
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  const watch = newWatch(() => {
    if (!box.participants) return
    const current = box.participants.currentConnections()
    if (current.length === n * (n - 1) && current.every((pc) => watch.firstFrame.has(pc))) resolveDone()
  })
  const t0 = performance.now()
  const participants = (box.participants = await start(watch))
  // A connection replaced after its frame (glare) is checked again.
  const recheck = setInterval(() => watch.changed(), 50)
  const timeout = setTimeout(() => resolveDone(), FORMATION_TIMEOUT_MS)
  await done
  clearInterval(recheck)
  clearTimeout(timeout)
  const current = participants.currentConnections()
  const complete = current.length === n * (n - 1) && current.every((pc) => watch.firstFrame.has(pc))
  const ms = complete ? Math.max(...current.map((pc) => watch.firstFrame.get(pc)!)) - t0 : NaN
  const pairs = (n * (n - 1)) / 2
  await participants.stop()
  stopAllSynthetic()
  return { ms, framesPerPair: watch.signals.frames / pairs, bytesPerPair: watch.signals.bytes / pairs }
}

// ---------------------------------------------------------------------------
// The floor: every pair's two connections in this process, joined by direct calls.

function floor(n: number) {
  return formation(n, async (watch) => {
    const Connection = watchedConnection(wrtc.RTCPeerConnection, watch)
    const streams = await Promise.all(
      Array.from({ length: n }, (_, i) => syntheticMedia({ ...SMALL, label: `floor ${i}` }).getUserMedia({ video: true })),
    )
    const connections: RTCPeerConnection[] = []
    const pairs: Promise<void>[] = []
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const a = new Connection()
        const b = new Connection()
        connections.push(a, b)
        for (const [pc, stream] of [
          [a, streams[i]],
          [b, streams[j]],
        ] as const) {
          for (const track of stream.getTracks()) pc.addTrack(track, stream)
        }
        a.createDataChannel('bench')
        pairs.push(handOver(a, b))
      }
    }
    await Promise.all(pairs)
    return {
      currentConnections: () => connections,
      stop: async () => {
        for (const pc of connections) pc.close()
        for (const stream of streams) for (const track of stream.getTracks()) track.stop()
      },
    }
  })
}

/** Offer, answer and candidates from `a` to `b` and back, by direct calls. */
async function handOver(a: RTCPeerConnection, b: RTCPeerConnection) {
  const early = new Map<RTCPeerConnection, RTCIceCandidate[]>([
    [a, []],
    [b, []],
  ])
  const described = new Set<RTCPeerConnection>()
  const deliver = (to: RTCPeerConnection, candidate: RTCIceCandidate) =>
    described.has(to) ? to.addIceCandidate(candidate).catch(() => undefined) : early.get(to)!.push(candidate)
  a.addEventListener('icecandidate', (e) => e.candidate && deliver(b, e.candidate))
  b.addEventListener('icecandidate', (e) => e.candidate && deliver(a, e.candidate))
  const described_ = async (pc: RTCPeerConnection) => {
    described.add(pc)
    for (const candidate of early.get(pc)!) await pc.addIceCandidate(candidate).catch(() => undefined)
  }
  const offer = await a.createOffer()
  await a.setLocalDescription(offer)
  await b.setRemoteDescription(offer)
  await described_(b)
  const answer = await b.createAnswer()
  await b.setLocalDescription(answer)
  await a.setRemoteDescription(answer)
  await described_(a)
}

// ---------------------------------------------------------------------------
// simple-peer over the bare relay: the newcomer offers to everyone present.

type BareFrame =
  { type: 'welcome'; id: string; peers: string[] } | { type: 'joined'; id: string } | { type: 'signal'; from: string; data: unknown }

function simplePeerMesh(relay: RoomServer, n: number, camera: Camera = SMALL) {
  return formation(n, (watch) => startSimplePeers(relay, n, camera, watch))
}

async function startSimplePeers(relay: RoomServer, n: number, camera: Camera, watch: Watch): Promise<Participants> {
  const room = `simple-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`
  const Socket = countingWebSocket(watch, () => true)
  const impl = { ...wrtc, RTCPeerConnection: watchedConnection(wrtc.RTCPeerConnection, watch) }
  const everyone: { peers: Map<string, SimplePeer.Instance>; socket: WebSocket; stream: MediaStream }[] = []
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const stream = await syntheticMedia({ ...camera, label: `simple ${i}` }).getUserMedia({ video: true })
      const socket = new Socket(relay.wsUrl(room))
      const peers = new Map<string, SimplePeer.Instance>()
      const peerFor = (id: string, initiator: boolean) => {
        let peer = peers.get(id)
        if (!peer) {
          peer = new SimplePeer({ initiator, wrtc: impl, stream: stream as unknown as globalThis.MediaStream, trickle: true })
          peer.on('signal', (data) => socket.send(JSON.stringify({ to: id, data })))
          peer.on('error', () => undefined)
          peers.set(id, peer)
        }
        return peer
      }
      socket.on('message', (raw) => {
        const frame = JSON.parse(String(raw)) as BareFrame
        if (frame.type === 'welcome') for (const id of frame.peers) peerFor(id, true)
        if (frame.type !== 'signal') return
        const peer = peerFor(frame.from, false)
        if (!peer.destroyed) peer.signal(frame.data as SimplePeer.SignalData)
      })
      everyone.push({ peers, socket, stream })
    }),
  )
  return {
    currentConnections: () =>
      everyone.flatMap((p) => [...p.peers.values()].map((peer) => (peer as unknown as { _pc: RTCPeerConnection })._pc)),
    stop: async () => {
      for (const p of everyone) {
        p.socket.removeAllListeners('message')
        for (const peer of p.peers.values()) peer.destroy()
        p.socket.close()
        for (const track of p.stream.getTracks()) track.stop()
      }
    },
  }
}

// ---------------------------------------------------------------------------
// meshcall: the room machine over the room server.

function meshcallMesh(server: RoomServer, n: number, camera: Camera = SMALL) {
  return formation(n, (watch) => startMeshcall(server, n, camera, watch))
}

function startMeshcall(server: RoomServer, n: number, camera: Camera, watch: Watch): Participants {
  const room = `meshcall-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`
  const calls: Call[] = []
  const Socket = countingWebSocket(watch, (frame) => frame.startsWith('{"type":"signal"'))
  for (let i = 0; i < n; i++) {
    const base = nodeWebRTC({ ...camera, label: `meshcall ${i}` })
    calls.push(
      createCall({
        host: server.host,
        room,
        name: `Bench ${i}`,
        webrtc: { ...base, RTCPeerConnection: watchedConnection(base.RTCPeerConnection, watch), WebSocket: Socket },
        log: silentLogger,
        media: { audio: false, video: true },
      }),
    )
  }
  return {
    currentConnections: () =>
      calls.flatMap((call) =>
        Object.values(call.getSnapshot().context.peers).map((ref) => ref.getSnapshot().context.link.pc as RTCPeerConnection),
      ),
    stop: async () => {
      await Promise.all(
        calls.map(
          (call) =>
            new Promise<void>((resolve) => {
              const subscription = call.subscribe({ complete: resolve, error: () => resolve() })
              call.send({ type: 'ui.leave' })
              setTimeout(() => {
                subscription.unsubscribe()
                call.stop()
                resolve()
              }, 2_000).unref()
            }),
        ),
      )
    },
  }
}

// ---------------------------------------------------------------------------
// CPU: a formed mesh at 640×480, 30 fps, for CPU_SECONDS.

async function cpuPerParticipantSecond(n: number, start: (watch: Watch) => Promise<Participants> | Participants): Promise<number> {
  let resolveFormed!: () => void
  const formed = new Promise<void>((resolve) => (resolveFormed = resolve))
  const box: { participants?: Participants } = {}
  const watch = newWatch(() => {
    const current = box.participants?.currentConnections() ?? []
    if (current.length === n * (n - 1) && current.every((pc) => watch.firstFrame.has(pc))) resolveFormed()
  })
  const participants = (box.participants = await start(watch))
  const recheck = setInterval(() => watch.changed(), 50)
  await formed
  clearInterval(recheck)
  // Let the senders settle (meshcall scales its encodings once connected).
  await new Promise((resolve) => setTimeout(resolve, 3_000))
  const before = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, CPU_SECONDS * 1_000))
  const used = process.cpuUsage(before)
  const seconds = (performance.now() - t0) / 1000
  await participants.stop()
  stopAllSynthetic()
  return (used.user + used.system) / 1e6 / (n * seconds)
}

// ---------------------------------------------------------------------------
// Relay latency, one way, paced under the rate limit.

const candidate: SignalData = {
  kind: 'candidate',
  candidate: {
    candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'abcd',
  },
  session: 1,
}
// About the size of a one-track offer with a data channel.
const offer: SignalData = { kind: 'description', description: { type: 'offer', sdp: 'a=x\r\n'.repeat(1200) }, session: 1 }
const PACE_MS = 25

async function meshcallRelay(server: RoomServer, data: SignalData): Promise<number[]> {
  const room = `relay-${Date.now()}`
  const token = (name: string) => mintToken(AUTH_SECRET, { room, name }, 600)
  const a = await TestClient.join(server.wsUrl(room, { token: await token('A') }))
  const b = await TestClient.join(server.wsUrl(room, { token: await token('B') }))
  const samples: number[] = []
  for (let i = 0; i < RELAY_SAMPLES; i++) {
    const sent = performance.now()
    a.client.send({ type: 'signal', to: b.welcome.id, data })
    await b.client.next('signal')
    samples.push(performance.now() - sent)
    b.client.clear()
    await new Promise((resolve) => setTimeout(resolve, PACE_MS))
  }
  await a.client.close()
  await b.client.close()
  return samples
}

async function bareRelay(relay: RoomServer, data: SignalData): Promise<number[]> {
  const room = `relay-${Date.now()}`
  const open = async () => {
    const socket = new WebSocket(relay.wsUrl(room))
    const welcome = await new Promise<{ id: string }>((resolve) => socket.once('message', (raw) => resolve(JSON.parse(String(raw)))))
    return { socket, id: welcome.id }
  }
  const a = await open()
  const b = await open()
  const samples: number[] = []
  for (let i = 0; i < RELAY_SAMPLES; i++) {
    const arrived = new Promise<void>((resolve) =>
      b.socket.on('message', function onMessage(raw) {
        if (!String(raw).startsWith('{"type":"signal"')) return
        b.socket.off('message', onMessage)
        resolve()
      }),
    )
    const sent = performance.now()
    a.socket.send(JSON.stringify({ to: b.id, data }))
    await arrived
    samples.push(performance.now() - sent)
    await new Promise((resolve) => setTimeout(resolve, PACE_MS))
  }
  a.socket.close()
  b.socket.close()
  return samples
}

// ---------------------------------------------------------------------------
// Bundle: the production build's initial JavaScript and the inspector chunk.

function bundleSizes(): { initialKb: number; inspectorKb: number; elkWorkerKb: number } {
  const dist = join(ROOT, 'dist')
  const read = (file: string) => readFileSync(join(dist, 'assets', file))
  // A chunk's own imports: static (`from"./x.js"`) and, with `lazy`, dynamic (`import("./x.js")`).
  const closure = (roots: string[], lazy: boolean) => {
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const code = read(file).toString()
      for (const m of code.matchAll(/from\s*"\.\/([^"]+\.js)"/g)) visit(m[1])
      if (lazy) for (const m of code.matchAll(/import\(\s*"\.\/([^"]+\.js)"\s*\)/g)) visit(m[1])
    }
    roots.forEach(visit)
    return seen
  }
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  const initial = closure(
    [...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]),
    false,
  )
  const assets = readdirSync(join(dist, 'assets'))
  const panel = assets.filter((f) => /^InspectorPanel-.*\.js$/.test(f))
  // elk.bundled loads only where there is no Worker (the component tests); a browser lays out in the worker.
  const inspector = [...closure(panel, true)].filter((f) => !initial.has(f) && !/^elk\.bundled-/.test(f))
  const gzKb = (files: Iterable<string>) => [...files].reduce((sum, f) => sum + gzipSync(read(f)).length / 1024, 0)
  return { initialKb: gzKb(initial), inspectorKb: gzKb(inspector), elkWorkerKb: gzKb(assets.filter((f) => /^elk-worker.*\.js$/.test(f))) }
}

// ---------------------------------------------------------------------------

async function main() {
  const rows: Row[] = []
  const raw: Record<string, unknown> = {}
  const [server, relay, authed] = await Promise.all([
    startRoomServer(),
    startRoomServer({}, { config: join(ROOT, 'test/bench/bareRelay/partykit.json') }),
    startRoomServer({ MESHCALL_AUTH_SECRET: AUTH_SECRET }),
  ])
  try {
    for (const n of SIZES) {
      const samples = { floor: [] as Formation[], simple: [] as Formation[], meshcall: [] as Formation[] }
      for (let run = 1; run <= RUNS; run++) {
        log(`mesh formation, N = ${n}, run ${run} of ${RUNS}`)
        // Interleaved, so drift during the run touches all three alike.
        samples.floor.push(await floor(n))
        samples.simple.push(await simplePeerMesh(relay, n))
        samples.meshcall.push(await meshcallMesh(server, n))
      }
      raw[`formation-${n}`] = samples
      const of = (xs: Formation[], figure: keyof Formation) => median(xs.map((x) => x[figure]))
      const row = (figure: string, key: keyof Formation, unit: string, anchor: string, anchorValue: number): Row => ({
        figure,
        meshcall: of(samples.meshcall, key),
        unit,
        anchor,
        anchorValue,
        ratio: ratio(of(samples.meshcall, key), anchorValue),
      })
      rows.push(
        row(`mesh formation, N = ${n}`, 'ms', 'ms', 'in-process floor', of(samples.floor, 'ms')),
        row(`mesh formation, N = ${n}`, 'ms', 'ms', 'simple-peer, bare relay', of(samples.simple, 'ms')),
        row(
          `signaling frames per pair, N = ${n}`,
          'framesPerPair',
          'frames',
          'simple-peer, bare relay',
          of(samples.simple, 'framesPerPair'),
        ),
        row(`signaling bytes per pair, N = ${n}`, 'bytesPerPair', 'bytes', 'simple-peer, bare relay', of(samples.simple, 'bytesPerPair')),
      )
    }

    for (const n of CPU_SIZES) {
      log(`CPU, N = ${n}, ${CPU_SECONDS} s each at 640×480, 30 fps`)
      const simple = await cpuPerParticipantSecond(n, (watch) => startSimplePeers(relay, n, VGA, watch))
      const mesh = await cpuPerParticipantSecond(n, (watch) => startMeshcall(server, n, VGA, watch))
      raw[`cpu-${n}`] = { simple, meshcall: mesh }
      rows.push({
        figure: `CPU per participant-second, N = ${n}`,
        meshcall: mesh,
        unit: 'CPU s',
        anchor: 'simple-peer (full resolution to all)',
        anchorValue: simple,
        ratio: ratio(mesh, simple),
      })
    }

    for (const [name, data] of [
      ['candidate', candidate],
      ['6 KB offer', offer],
    ] as const) {
      log(`relay, ${name}, ${RELAY_SAMPLES} samples each`)
      const ours = await meshcallRelay(authed, data)
      const bare = await bareRelay(relay, data)
      raw[`relay-${name}`] = { meshcall: ours, bare }
      for (const p of [50, 99]) {
        rows.push({
          figure: `relay p${p}, ${name}`,
          meshcall: percentile(ours, p),
          unit: 'ms',
          anchor: 'bare relay',
          anchorValue: percentile(bare, p),
          ratio: ratio(percentile(ours, p), percentile(bare, p)),
        })
      }
    }
  } finally {
    await Promise.all([server.stop(), relay.stop(), authed.stop()])
  }

  await ensureAppBuilt()
  const bundle = bundleSizes()
  rows.push(
    {
      figure: 'initial JavaScript, gzipped',
      meshcall: bundle.initialKb,
      unit: 'KB',
      anchor: 'goal',
      anchorValue: 110,
      ratio: ratio(bundle.initialKb, 110),
    },
    { figure: 'inspector chunks, gzipped', meshcall: bundle.inspectorKb, unit: 'KB', anchor: '', anchorValue: null, ratio: '' },
    { figure: "inspector's ELK worker, gzipped", meshcall: bundle.elkWorkerKb, unit: 'KB', anchor: '', anchorValue: null, ratio: '' },
  )
  writeResults('mesh', `mesh formation (median of ${RUNS}), CPU, relay and bundle`, rows, raw)
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
