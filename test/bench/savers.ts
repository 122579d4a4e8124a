/**
 * What the bandwidth savers save, in a 4-person call of meshcall bots
 * (real libwebrtc, synthetic cameras) over the real room server, each phase
 * beside the same call's baseline, in one run:
 *
 * - baseline: everyone sends and receives video;
 * - audio only: participant 1 in audio-only mode (its camera off, and it
 *   asks everyone not to send it video);
 * - hidden: participant 1's page hidden (it asks everyone not to send it
 *   video; its own camera still goes out).
 *
 * Each phase: CPU seconds of this process (all four participants) per
 * participant-second, and video bytes sent by all four per second (from
 * getStats), over `--seconds` after 3 s to settle.
 *
 * Run: `npm run bench` (or `npx tsx test/bench/savers.ts [--seconds 12]`).
 */
import { parseArgs } from 'node:util'
import { isFullyConnected, startBot, stopBot, type Bot } from '../../machines/node/bots'
import { stopAllSynthetic } from '../../machines/node/syntheticMedia'
import { startRoomServer } from '../support/roomServer'
import { waitUntil } from '../support/wait'
import { ratio, writeResults, type Row } from './results'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '12' } } })
const SECONDS = Number(values.seconds)
const N = 4
const log = (line: string) => process.stderr.write(`bench savers: ${line}\n`)
const settle = () => new Promise((resolve) => setTimeout(resolve, 3_000))

/** Video bytes sent by every bot on every connection so far. */
async function videoBytesSent(bots: Bot[]): Promise<number> {
  let total = 0
  for (const bot of bots) {
    for (const ref of Object.values(bot.call.getSnapshot().context.peers)) {
      const pc = ref.getSnapshot().context.link.pc as unknown as RTCPeerConnection
      const report = await pc.getStats()
      report.forEach((stat: { type: string; kind?: string; bytesSent?: number }) => {
        if (stat.type === 'outbound-rtp' && stat.kind === 'video') total += stat.bytesSent ?? 0
      })
    }
  }
  return total
}

async function phase(bots: Bot[]): Promise<{ cpu: number; bytesPerSecond: number }> {
  await settle()
  const bytes0 = await videoBytesSent(bots)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000))
  const cpu = process.cpuUsage(cpu0)
  const seconds = (performance.now() - t0) / 1000
  const bytes = (await videoBytesSent(bots)) - bytes0
  return { cpu: (cpu.user + cpu.system) / 1e6 / (N * seconds), bytesPerSecond: bytes / seconds }
}

const wantVideo = (bot: Bot, want: boolean) => {
  for (const ref of Object.values(bot.call.getSnapshot().context.peers)) ref.send({ type: 'ui.wantVideo', want })
}

const server = await startRoomServer()
const bots: Bot[] = []
try {
  const room = `bench-savers-${Date.now()}`
  for (let i = 1; i <= N; i++) bots.push(startBot({ host: server.host, room, count: N, logLevel: 'error' }, i))
  await waitUntil(() => bots.every((b) => isFullyConnected(b, N - 1)), { timeoutMs: 60_000, what: 'a full mesh of 4' })
  const [first] = bots
  const media = first.call.getSnapshot().context.media

  log(`baseline, ${SECONDS} s`)
  const baseline = await phase(bots)

  log(`participant 1 audio only, ${SECONDS} s`)
  media.send({ type: 'ui.toggleCamera' })
  wantVideo(first, false)
  const audioOnly = await phase(bots)
  media.send({ type: 'ui.toggleCamera' })
  wantVideo(first, true)

  log(`participant 1 hidden, ${SECONDS} s`)
  await settle()
  wantVideo(first, false)
  const hidden = await phase(bots)

  const rows: Row[] = [
    {
      figure: 'CPU per participant-second, 4 people',
      meshcall: round(baseline.cpu),
      unit: 'CPU s',
      anchor: '',
      anchorValue: null,
      ratio: '',
    },
    ...(
      [
        ['audio only (1 of 4)', audioOnly],
        ['page hidden (1 of 4)', hidden],
      ] as const
    ).flatMap(([what, result]) => [
      {
        figure: `CPU per participant-second, ${what}`,
        meshcall: round(result.cpu),
        unit: 'CPU s',
        anchor: 'everyone on video',
        anchorValue: round(baseline.cpu),
        ratio: ratio(result.cpu, baseline.cpu),
      },
      {
        figure: `video sent by all, ${what}`,
        meshcall: Math.round(result.bytesPerSecond / 1024),
        unit: 'KB/s',
        anchor: 'everyone on video',
        anchorValue: Math.round(baseline.bytesPerSecond / 1024),
        ratio: ratio(result.bytesPerSecond, baseline.bytesPerSecond),
      },
    ]),
  ]
  writeResults('savers', `bandwidth savers in a 4-person call, ${SECONDS} s a phase`, rows, { baseline, audioOnly, hidden })
} finally {
  await Promise.all(bots.map(stopBot))
  stopAllSynthetic()
  await server.stop()
}
process.exit(0)

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
