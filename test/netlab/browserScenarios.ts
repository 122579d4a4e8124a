/**
 * Network lab scenarios with a real Chromium participant in a home
 * namespace (see browser.ts), beside bots. The browser is participant 1;
 * `runs` holds only the bots' runs, so bots are found by their participant
 * index, and the browser by the peer the bots met that is none of them.
 */
import { connectedTo, type BotRun } from './bots'
import { withLabBrowser, type TileChange, type TileView } from './browser'
import {
  callEnd,
  connected,
  leftConnectedAfter,
  neverDropped,
  readable,
  recoveredInPlace,
  selfIdOf,
  videoBackAfter,
  type Side,
} from './checks'
import { cutLink, holdFor } from './faults'
import type { Scenario } from './scenarios'
import { firstAfter, peerMoments, statsOf } from './timeline'

/** How long link-cut-browser cuts the link, ms: the scenario's definition, as in the bots' link-cut. */
const CUT_MS = 10_000
/** The browser's display name. */
const BROWSER_NAME = 'Chromium 1'

function runOf(runs: BotRun[], index: number): BotRun {
  const run = runs.find((r) => r.participant.index === index)
  if (!run) throw new Error(`no run for bot ${index} (runs: ${runs.map((r) => r.participant.index).join(', ')})`)
  return run
}

/** The browser's id in the room: the peer the bots' dumps hold that is none of the bots. */
function browserIdIn(runs: BotRun[]): string | null {
  const bots = new Set(runs.map(selfIdOf))
  for (const run of runs) {
    const peer = run.dump?.actors.find((a) => a.kind === 'peer' && a.peerId !== null && !bots.has(a.peerId))
    if (peer?.peerId) return peer.peerId
  }
  return null
}

/** Bot `from`'s side of its pair with `peerId` (another bot's id, or the browser's), called `name`. */
function sideOf(runs: BotRun[], from: number, peerId: string | null, name: string): Side {
  const run = runOf(runs, from)
  return { who: `bot ${from}'s pair with ${name}`, run, peerId, moments: peerId ? peerMoments(run.dump, peerId) : [] }
}

/** The first change of `peerId`'s tile at or after `from` that `matches`, or undefined. */
function firstChange(changes: TileChange[], peerId: string, from: number, matches: (state: string) => boolean) {
  return changes.find((c) => c.peerId === peerId && c.t >= from && matches(c.state))
}

export const BROWSER_SCENARIOS: Scenario[] = [
  {
    name: 'symmetric-turn-browser',
    description:
      "two symmetric NATs, Chromium in home 1 and a bot in home 2: the pair connects through coturn with the room server's per-peer credentials, and the browser's tile says relayed and plays the bot's video",
    nats: ['symmetric', 'symmetric'],
    serve: true,
    drive: ({ lab, host, room, log, bot, problem, measured }) => {
      const [home1, home2] = lab.participants
      return withLabBrowser(lab, home1, { host, scenario: 'symmetric-turn-browser', log }, async (browser) => {
        await browser.join(room, BROWSER_NAME)
        log('the browser joined')
        const other = bot(home2, 20)
        await other.until(connectedTo(1), 'connected to the browser', 30_000)
        await browser.seesPlaying(1)
        // The route comes from the page's stats, sampled once a second.
        const [tile] = await browser.until(
          async () => {
            const tiles = await browser.tiles()
            return tiles.length === 1 && tiles[0].route ? tiles : null
          },
          "a route on the bot's tile",
          { timeoutMs: 10_000 },
        )
        log(`the browser's tile: ${tile.route}, ${tile.routeDetail}`)
        if (tile.route !== 'relayed') problem(`the browser's tile says ${tile.route} (${tile.routeDetail}), not relayed`)
        const changes = await browser.tileChanges()
        const met = firstChange(changes, tile.peerId, 0, () => true)
        const up = firstChange(changes, tile.peerId, 0, (s) => s === 'connected')
        measured('browserConnectMs', met && up ? up.t - met.t : null)
        return [await other.done]
      })
    },
    check: (runs) => {
      const problems = readable(runs)
      if (problems.length > 0) return problems
      const s = sideOf(runs, 2, browserIdIn(runs), 'the browser')
      if (s.run.exitCode !== 0) problems.push(`bot 2 exited ${s.run.exitCode}:\n${s.run.output.slice(-2000)}`)
      const pair = s.peerId
        ? statsOf(s.run.dump, s.peerId)
            .filter((x) => x.pair)
            .at(-1)?.pair
        : undefined
      if (!pair) problems.push(`${s.who}: no selected candidate pair in its stats`)
      else if (pair.localType !== 'relay' && pair.remoteType !== 'relay')
        problems.push(`${s.who} used ${pair.localType}→${pair.remoteType} ${pair.protocol}; expected a relay on at least one side`)
      const up = firstAfter(s.moments, 0, 'connected')
      if (up && videoBackAfter(s, up.t) === null) problems.push(`${s.who} decoded no video from the browser once connected`)
      return [...problems, ...connected(s)]
    },
    measure: (runs) => {
      const s = sideOf(runs, 2, browserIdIn(runs), 'the browser')
      const up = firstAfter(s.moments, 0, 'connected')
      return { 'bot2←browserFirstVideoMs': up ? videoBackAfter(s, up.t) : null }
    },
  },
  {
    name: 'link-cut-browser',
    description: `Chromium in home 1 and bots in homes 2 and 3, behind EIM NATs; the browser's link is cut both ways for ${CUT_MS / 1000} s: its pairs go reconnecting on both sides, recover on the same connections with video in the browser again, and the bots' own pair never drops`,
    nats: ['eim', 'eim', 'eim'],
    serve: true,
    drive: ({ lab, host, room, log, bot, mark, problem, measured }) => {
      const [home1, home2, home3] = lab.participants
      return withLabBrowser(lab, home1, { host, scenario: 'link-cut-browser', log }, async (browser) => {
        await browser.join(room, BROWSER_NAME)
        log('the browser joined')
        const bots = [home2, home3].map((p) => bot(p, 50))
        await Promise.all(bots.map((b) => b.until(connectedTo(2), 'connected to both others', 40_000)))
        await browser.seesPlaying(2)
        const before = await browser.peerConnections()
        const botIds = new Map(bots.map((b) => [b.progress().at(-1)?.selfId ?? '', b.participant.index]))

        const cut = cutLink(lab, home1)
        const cutAt = mark('cut')
        log(`fault: ${cut.name} for ${CUT_MS / 1000} s`)
        await holdFor([cut], CUT_MS)
        const restored = mark('restored')
        await browser.watchFrames()
        log('link restored')
        const decodedAtRestore = await browser.decodedFrames()
        let seen: [TileView[], Record<string, number>] = [[], {}]
        const [, videoBack] = await Promise.all([
          Promise.all(bots.map((b) => b.until(connectedTo(2), 'connected to both others again', 40_000))),
          // A failure here is reported, not thrown, so that the bots' own checks still run.
          browser
            .until(
              async () => {
                seen = await Promise.all([browser.tiles(), browser.framesSinceWatch()])
                const [tiles, frames] = seen
                return tiles.length === 2 && tiles.every((t) => t.state === 'connected' && frames[t.peerId] !== undefined)
              },
              'both tiles connected again, each with a new video frame',
              { timeoutMs: 30_000, describe: () => ({ tiles: seen[0], framesSinceRestore: seen[1] }) },
            )
            .then(
              () => true,
              async (error: unknown) => {
                const decoded = await browser.decodedFrames()
                problem(
                  `${error instanceof Error ? error.message : String(error)}\nframes decoded by each tile's RTCPeerConnection, at the restore and now: ${JSON.stringify({ decodedAtRestore, decoded })}`,
                )
                return false
              },
            ),
        ])
        // The page's own account of each recovery (its role in the pair, the cause, how long), for the record.
        for (const line of browser.logs().filter((l) => /"msg":"(restarting ICE|asking the remote to restart ICE|recovered)"/.test(l)))
          log(`the page: ${line}`)
        if (videoBack)
          log(`every bot and the browser show every pair connected again, ${mark('reconnected') - restored} ms after the restore`)

        const [changes, frames, after] = await Promise.all([browser.tileChanges(), browser.framesSinceWatch(), browser.peerConnections()])
        for (const [peerId, index] of botIds) {
          const who = `the browser's tile for bot ${index}`
          const during = changes.filter((c) => c.peerId === peerId && c.t >= cutAt && c.t <= restored)
          if (!during.some((c) => c.state === 'reconnecting'))
            problem(`${who} never said reconnecting while cut (its changes: ${JSON.stringify(during.map((c) => [c.t - cutAt, c.state]))})`)
          const left = during.find((c) => c.state !== 'connected')
          // Connected again after it left; a change dated a few ms before the mark (the restore runs just before it) counts.
          const back = left && firstChange(changes, peerId, left.t, (s) => s === 'connected')
          measured(`browser→bot${index}LeftConnectedMs`, left ? left.t - cutAt : null)
          measured(`browser→bot${index}RestoreToConnectedMs`, back ? back.t - restored : null)
          measured(`browser←bot${index}RestoreToFrameMs`, frames[peerId] === undefined ? null : frames[peerId] - restored)
        }
        // A recovery in place is an ICE restart on the RTCPeerConnections the page already had.
        if (after.length !== before.length)
          problem(`the page made ${after.length - before.length} new RTCPeerConnection(s) during the cut (${before.length} before it)`)
        const down = after.filter((pc) => pc.connectionState !== 'connected')
        if (down.length > 0) problem(`the page's RTCPeerConnections are not all connected again: ${JSON.stringify(after)}`)
        return Promise.all(bots.map((b) => b.done))
      })
    },
    check: (runs, marks) => {
      const problems = readable(runs)
      if (problems.length > 0) return problems
      const browserId = browserIdIn(runs)
      if (!browserId) return ['no bot met the browser']
      const end = callEnd(runs)
      const [bot2, bot3] = [2, 3].map((i) => selfIdOf(runOf(runs, i)))
      return [
        ...[2, 3].flatMap((i) => recoveredInPlace(sideOf(runs, i, browserId, 'the browser'), marks, { mustNotice: true })),
        ...neverDropped(sideOf(runs, 2, bot3, 'bot 3'), end),
        ...neverDropped(sideOf(runs, 3, bot2, 'bot 2'), end),
      ]
    },
    measure: (runs, marks) => {
      const out: Record<string, number | null> = {}
      const browserId = browserIdIn(runs)
      for (const index of [2, 3]) {
        const s = sideOf(runs, index, browserId, 'the browser')
        const back = firstAfter(s.moments, marks.restored, 'connected')
        out[`bot${index}→browserRestoreToConnectedMs`] = back ? back.t - marks.restored : null
        out[`bot${index}→browserRestoreToVideoMs`] = videoBackAfter(s, marks.restored)
        out[`bot${index}→browserIceRestarts`] = s.moments.at(-1)?.restarts ?? null
        out[`bot${index}→browserLeftConnectedMs`] = leftConnectedAfter(s, marks)
      }
      return out
    },
  },
]
