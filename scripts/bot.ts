/**
 * Fills a room with headless peers that send a moving test pattern and a tone.
 *
 *   npm run bot -- --host 127.0.0.1:1999 --room demo --peers 3 --seconds 20 [--json] [--token T] [--dump FILE] [--relay]
 *
 * Prints a line per peer as its machines move (and, with --dump, as each
 * connection's candidate pair changes), then a summary (JSON with --json). Exits 0 only if every bot was connected to every other participant.
 * --dump writes each bot's session in the inspector's format (FILE for one
 * bot; FILE with -1, -2… before the extension for several), to open at /inspect.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { isValidRoomName } from '../protocol/messages'
import { dumpBot, isFullyConnected, report, startBot, stopBot, type Bot } from '../machines/node/bots'
import { peerTag } from '../machines/peerMachine'

function usage(message: string): never {
  process.stderr.write(
    `bot: ${message}\nusage: npm run bot -- --host HOST:PORT --room ROOM [--peers N] [--seconds S] [--json] [--token T] [--dump FILE [--stats-ms MS]] [--relay] [--noise] [--blind-to-network]\n`,
  )
  process.exit(2)
}

let values
try {
  ;({ values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1:1999' },
      room: { type: 'string', default: 'demo' },
      peers: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '20' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      dump: { type: 'string' },
      relay: { type: 'boolean', default: false },
      'stats-ms': { type: 'string', default: '1000' },
      // A camera of random pixels, which takes all the bitrate it is given.
      noise: { type: 'boolean', default: false },
      // Do not watch the host's addresses: network changes are found by silence and heartbeats alone.
      'blind-to-network': { type: 'boolean', default: false },
    },
  }))
} catch (error) {
  usage(error instanceof Error ? error.message : String(error))
}
const count = Number(values.peers)
const seconds = Number(values.seconds)
if (!isValidRoomName(values.room)) usage('--room must be 1 to 64 characters of A-Z a-z 0-9 _ -')
if (!Number.isInteger(count) || count < 1 || count > 64) usage('--peers must be a whole number from 1 to 64')
if (!Number.isFinite(seconds) || seconds <= 0) usage('--seconds must be a positive number')
const statsMs = Number(values['stats-ms'])
if (!Number.isInteger(statsMs) || statsMs < 100) usage('--stats-ms must be a whole number of ms, at least 100')

const started = Date.now()
const out = (line: string) => {
  if (!values.json) process.stdout.write(`${line}\n`)
}

const bots: Bot[] = []
let fullMeshMs: number | null = null
const lines = new Map<string, string>()

function progress(bot: Bot) {
  const snapshot = bot.call.getSnapshot()
  const room = typeof snapshot.value === 'string' ? snapshot.value : `online.${Object.values(snapshot.value)[0]}`
  const peers = Object.entries(snapshot.context.peers)
    .map(([id, ref]) => `${id}:${peerTag(ref.getSnapshot())}`)
    .join(' ')
  const line = `${bot.name} (${snapshot.context.selfId ?? '…'}) ${room}${peers ? ` | ${peers}` : ''}`
  if (lines.get(bot.name) !== line) {
    lines.set(bot.name, line)
    out(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${line}`)
  }
  // The candidate pair each connection uses, from the stats the dump
  // records: the network lab waits on it before a fault, so that the dump
  // knows the path the fault took away.
  for (const [peerId, samples] of Object.entries(bot.recorder?.stats() ?? {})) {
    const pair = samples.at(-1)?.pair
    if (!pair) continue
    const path = `${bot.name} (${snapshot.context.selfId ?? '…'}) path ${peerId} ${pair.localAddress ?? '?'} ${pair.remoteAddress ?? '?'} ${pair.localType}/${pair.remoteType}`
    if (lines.get(`${bot.name} ${peerId}`) !== path) {
      lines.set(`${bot.name} ${peerId}`, path)
      out(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${path}`)
    }
  }
  if (fullMeshMs === null && bots.length === count && bots.every((b) => isFullyConnected(b, count - 1))) {
    fullMeshMs = Date.now() - started
    out(`${(fullMeshMs / 1000).toFixed(1).padStart(5)}s full mesh of ${count}`)
  }
}

for (let i = 1; i <= count; i++) {
  const bot = startBot(
    {
      host: values.host,
      room: values.room,
      count,
      token: values.token,
      record: values.dump !== undefined,
      relay: values.relay,
      statsMs,
      scene: values.noise ? 'noise' : 'bars',
      watchNetwork: !values['blind-to-network'],
    },
    i,
  )
  bots.push(bot)
  // Children change without the room's snapshot changing: poll the summary line.
  bot.call.subscribe(() => progress(bot))
}
const ticker = setInterval(() => bots.forEach(progress), 250)

const finish = async (signal?: string) => {
  clearInterval(ticker)
  const reports = await Promise.all(bots.map(report))
  const failures = bots
    .map((bot) => bot.call.getSnapshot())
    .filter((s) => s.matches('failed'))
    .map((s) => s.context.failure)
  // "Every other participant": everyone in each bot's roster, bots or people.
  const ok =
    failures.length === 0 &&
    reports.every((r, i) => {
      const others = Object.keys(bots[i].call.getSnapshot().context.roster)
      return r.id !== null && others.length >= count - 1 && others.every((id) => r.connectedWith.includes(id))
    })
  const summary = {
    ok,
    room: values.room,
    peers: count,
    seconds: (Date.now() - started) / 1000,
    fullMeshMs,
    iceRestarts: reports.reduce((sum, r) => sum + r.iceRestarts, 0),
    failures,
    bots: reports,
    ...(signal ? { interruptedBy: signal } : {}),
  }
  const dumps = values.dump ? bots.map((bot) => dumpBot(bot, { room: values.room, host: values.host, peers: count })) : []
  await Promise.all(bots.map(stopBot))
  const dumpFiles: string[] = []
  dumps.forEach((dump, i) => {
    if (!dump || !values.dump) return
    const file = count === 1 ? values.dump : values.dump.replace(/(\.json)?$/, (ext) => `-${i + 1}${ext || '.json'}`)
    writeFileSync(file, JSON.stringify(dump))
    dumpFiles.push(file)
  })
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
  } else {
    out('')
    for (const r of reports) {
      out(`${r.name} ${r.id ?? '(never joined)'}: connected with ${r.connectedWith.length}/${r.peers.length}`)
      for (const p of r.peers) {
        out(`  from ${p.id}: ${p.state}, ${p.framesReceived} video frames, ${p.bytesReceived} bytes, ${p.iceRestarts} ICE restarts`)
      }
    }
    for (const f of failures) out(`failed: ${f?.reason}: ${f?.message}`)
    out(`full mesh: ${fullMeshMs === null ? 'not reached' : `${fullMeshMs} ms`}; ${ok ? 'OK' : 'NOT OK'}`)
    for (const file of dumpFiles) out(`session dump: ${file} (open it at /inspect)`)
  }
  process.exit(ok ? 0 : 1)
}

const timer = setTimeout(() => void finish(), seconds * 1000)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearTimeout(timer)
    void finish(signal)
  })
}
