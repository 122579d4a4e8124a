/**
 * How busy each call page's main thread is during a steady call in headless
 * Chromium, read from the DevTools Performance domain; optionally a CPU
 * profile of the first page, to tell the app's JavaScript from the browser's
 * own work.
 *
 *   npx tsx scripts/measure-pages.ts [--people 3|4] [--screen] [--seconds 10] [--quality standard|low] [--profile] [--json]
 *
 * The server and browser are started as the browser tests start them (the
 * built app on `partykit dev`, Debian Chromium with a fake camera) and are
 * always stopped, on error and on Ctrl-C too.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core'
import { startAppServer, type AppServer } from '../test/support/appServer'
import { CHROME_PATH, CHROMIUM_ARGS } from '../test/support/browsers'
import { isVideoQuality, VIDEO_QUALITIES, type VideoQuality } from '../machines/videoQuality'
import { seesPlaying as playing } from '../test/support/callPage'
import { waitUntil } from '../test/support/wait'

export type MeasureOptions = {
  people: number
  screen: boolean
  seconds: number
  profile: boolean
  /** The participants' video setting (`?quality=`), default `standard`. */
  quality?: VideoQuality
  /** Lines of progress; silent by default. */
  log?: (line: string) => void
}

/** Shares of one core over the window, in percent. */
export type PageLoad = {
  name: string
  busyPct: number
  scriptPct: number
  layoutStylePct: number
  wallSeconds: number
}

export type ProfileRow = {
  functionName: string
  url: string
  line: number
  /** Where the source map puts it, when the bundle has one. */
  source: string | null
  selfMs: number
  /** Of the profile's non-idle time. */
  pct: number
}

export type ProfileSummary = {
  /** Sampled time that was not idle, ms. */
  busyMs: number
  /** Self time in the app's own bundles (/assets/*.js), percent of busyMs. */
  appPct: number
  top: ProfileRow[]
  /** Samples with any app frame on the stack (the app's JS and the browser work it called), percent of busyMs. */
  appInclusivePct: number
  /** App self time by original source file, percent of busyMs. */
  appBySource: { source: string; pct: number }[]
  /** Time with a file of meshcall's own (not node_modules) on the stack, by file, percent of busyMs. */
  ownInclusiveBySource: { source: string; pct: number }[]
}

export type RenderCounts = {
  commitsPerSecond: number
  /** Function components that rendered, per second, by minified name and the element they render. */
  components: { component: string; perSecond: number }[]
}

export type MeasureResult = {
  options: Omit<MeasureOptions, 'log'>
  pages: PageLoad[]
  profile: ProfileSummary | null
  /** The whole machine over the window, percent of all its cores (from /proc/stat; null elsewhere). */
  machineBusyPct: number | null
  /** React commits and component renders per second on the first page, after the window. */
  renders: RenderCounts | null
  /** With --screen: from the click on Stop presenting until every other page has dropped the screen tile. */
  stopScreenMs: number | null
}

const VIEWPORT = { width: 1280, height: 720 }
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NAMES = ['Ada', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay']

type Participant = { name: string; context: BrowserContext; page: Page; cdp: CDPSession }

/**
 * Opens a call of `people` Chromium pages and measures each page's main
 * thread over `seconds` of steady call.
 */
export async function measurePages(options: MeasureOptions): Promise<MeasureResult> {
  const log = options.log ?? (() => undefined)
  let app: AppServer | undefined
  let browser: Browser | undefined
  const stop = async () => {
    await browser?.close().catch(() => undefined)
    await app?.stop()
    browser = undefined
    app = undefined
  }
  const interrupted = () => {
    void stop().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    log('starting the app server (building if needed)')
    app = await startAppServer()
    browser = await chromium.launch({ executablePath: CHROME_PATH, headless: true, args: CHROMIUM_ARGS })
    const room = `measure-${Date.now()}`
    const people: Participant[] = []
    for (const name of NAMES.slice(0, options.people)) {
      const context = await browser.newContext({ viewport: VIEWPORT })
      // tsx (esbuild) wraps named functions in __name(), which the page lacks.
      await context.addInitScript({ content: `var __name = (f) => f; (${installRenderCounter.toString()})()` })
      const page = await context.newPage()
      page.on('pageerror', (error) => log(`[${name} pageerror] ${error.message}`))
      await page.goto(app.roomUrl(room, { quality: options.quality ?? 'standard' }))
      await page.locator('[data-testid="display-name"]').fill(name)
      await page.locator('[data-testid="join"]').click()
      people.push({ name, context, page, cdp: await context.newCDPSession(page) })
    }
    for (const p of people) await seesPlaying(p, options.people - 1)
    log(`${options.people} people connected, every remote video playing`)

    if (options.screen) {
      await people[0].page.locator('[data-testid="toggle-screen"]').click()
      for (const p of people.slice(1)) await seesScreen(p)
      log('the screen share is playing on every other page')
    }

    const cpuBefore = machineCpu()
    const pages = await measureLoad(people, options.seconds)
    const machineBusyPct = machineBusySince(cpuBefore)
    const profile = options.profile ? await profilePage(people[0].cdp, options.seconds) : null
    const renders = await countRenders(people[0].page, Math.min(options.seconds, 5))

    let stopScreenMs: number | null = null
    if (options.screen) {
      const started = Date.now()
      await people[0].page.locator('[data-testid="toggle-screen"]').click()
      for (const p of people.slice(1)) {
        await p.page.waitForFunction(() => document.querySelector('[data-testid="remote-screen"]') === null, undefined, {
          polling: 50,
          timeout: 30_000,
        })
      }
      stopScreenMs = Date.now() - started
    }
    const { log: _, ...rest } = options
    return { options: rest, pages, profile, machineBusyPct, renders, stopScreenMs }
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await stop()
  }
}

/** Every remote tile connected, and each tile's video playing. */
function seesPlaying(p: Participant, remotes: number) {
  return playing((fn) => p.page.evaluate(fn), remotes, { who: p.name, timeoutMs: 60_000 })
}

async function seesScreen(p: Participant) {
  await waitUntil(
    () =>
      p.page.evaluate(() => {
        const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-screen"] video')
        return video !== null && video.videoWidth > 0 && video.currentTime > 0.3
      }),
    { timeoutMs: 30_000, what: `${p.name}: the shared screen playing` },
  )
}

type Metrics = Record<string, number>

async function metrics(cdp: CDPSession): Promise<Metrics> {
  const { metrics } = await cdp.send('Performance.getMetrics')
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]))
}

/** Every page over the same window: the metrics are cumulative seconds of main-thread work. */
async function measureLoad(people: Participant[], seconds: number): Promise<PageLoad[]> {
  for (const p of people) await p.cdp.send('Performance.enable', { timeDomain: 'timeTicks' })
  const before = await Promise.all(people.map((p) => metrics(p.cdp)))
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const after = await Promise.all(people.map((p) => metrics(p.cdp)))
  return people.map((p, i) => {
    const delta = (key: string) => (after[i][key] ?? 0) - (before[i][key] ?? 0)
    const wall = delta('Timestamp')
    const pct = (value: number) => (wall > 0 ? (value / wall) * 100 : 0)
    return {
      name: p.name,
      busyPct: pct(delta('TaskDuration')),
      scriptPct: pct(delta('ScriptDuration')),
      layoutStylePct: pct(delta('LayoutDuration') + delta('RecalcStyleDuration')),
      wallSeconds: wall,
    }
  })
}

type RenderState = { on: boolean; commits: number; renders: Record<string, number> }
type Fiber = { type: unknown; flags: number; child: Fiber | null; sibling: Fiber | null; stateNode: unknown }

/**
 * Runs in the page before the app: a stand-in for the React DevTools hook,
 * which react-dom calls at every commit even in production builds. It counts
 * only while `on`, so it costs nothing during the measurement window.
 */
function installRenderCounter() {
  const state: RenderState = { on: false, commits: 0, renders: {} }
  const PERFORMED_WORK = 1
  let previous = new WeakSet<Fiber>()
  const label = (fiber: Fiber) => {
    const type = fiber.type as { displayName?: string; name?: string }
    let host: Fiber | null = fiber.child
    while (host && typeof host.type !== 'string') host = host.child
    const element = host?.stateNode instanceof Element ? host.stateNode : null
    const what = element
      ? `${element.localName}${element.getAttribute('data-testid') ? `[${element.getAttribute('data-testid')}]` : element.classList[0] ? `.${element.classList[0]}` : ''}`
      : '-'
    return `${type.displayName ?? type.name ?? '?'} <${what}>`
  }
  Object.assign(window, {
    __meshcallRenders: state,
    __REACT_DEVTOOLS_GLOBAL_HOOK__: {
      supportsFiber: true,
      isDisabled: false,
      renderers: new Map(),
      inject: () => 1,
      checkDCE: () => undefined,
      onScheduleFiberRoot: () => undefined,
      onCommitFiberUnmount: () => undefined,
      onPostCommitFiberRoot: () => undefined,
      onCommitFiberRoot(_id: number, root: { current: Fiber }) {
        if (!state.on) return
        state.commits++
        // A subtree React skipped keeps last commit's fiber objects (and their stale flags).
        const seen = new WeakSet<Fiber>()
        const stack: Fiber[] = [root.current]
        while (stack.length > 0) {
          const fiber = stack.pop()!
          seen.add(fiber)
          if (typeof fiber.type === 'function' && fiber.flags & PERFORMED_WORK && !previous.has(fiber)) {
            const key = label(fiber)
            state.renders[key] = (state.renders[key] ?? 0) + 1
          }
          if (fiber.sibling) stack.push(fiber.sibling)
          if (fiber.child) stack.push(fiber.child)
        }
        previous = seen
      },
    },
  })
}

async function countRenders(page: Page, seconds: number): Promise<RenderCounts> {
  await page.evaluate(() => {
    const state = (window as unknown as { __meshcallRenders: RenderState }).__meshcallRenders
    Object.assign(state, { on: true, commits: 0, renders: {} })
  })
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const counted = await page.evaluate(() => {
    const state = (window as unknown as { __meshcallRenders: RenderState }).__meshcallRenders
    state.on = false
    return { commits: state.commits, renders: state.renders }
  })
  return {
    commitsPerSecond: counted.commits / seconds,
    components: Object.entries(counted.renders)
      .map(([component, count]) => ({ component, perSecond: count / seconds }))
      .sort((a, b) => b.perSecond - a.perSecond)
      .slice(0, 12),
  }
}

type CpuTimes = { busy: number; total: number } | null

/** Jiffies of every core since boot; a shared 2-core machine is part of the story. */
function machineCpu(): CpuTimes {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = fields.reduce((sum, value) => sum + value, 0)
    // idle and iowait
    return { busy: total - fields[3] - (fields[4] ?? 0), total }
  } catch {
    return null
  }
}

function machineBusySince(before: CpuTimes): number | null {
  const after = machineCpu()
  if (!before || !after || after.total === before.total) return null
  return ((after.busy - before.busy) / (after.total - before.total)) * 100
}

type CpuProfile = {
  nodes: { id: number; children?: number[]; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[]
  samples?: number[]
  timeDeltas?: number[]
}

const IDLE = '(idle)'
const isAppUrl = (url: string) => /\/assets\/[^/]+\.js$/.test(url)

async function profilePage(cdp: CDPSession, seconds: number): Promise<ProfileSummary> {
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 })
  await cdp.send('Profiler.start')
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const { profile } = (await cdp.send('Profiler.stop')) as { profile: CpuProfile }
  await cdp.send('Profiler.disable')

  const byNode = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  // A sample's delta is the time since the previous one, so it belongs to the previous sample's node.
  for (let i = 1; i < samples.length; i++) selfUs.set(samples[i - 1], (selfUs.get(samples[i - 1]) ?? 0) + deltas[i])

  const rows = new Map<string, Omit<ProfileRow, 'pct' | 'source'> & { column: number }>()
  let busyUs = 0
  let appUs = 0
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber, columnNumber } = byNode.get(id)!.callFrame
    if (functionName === IDLE) continue
    busyUs += us
    if (isAppUrl(url)) appUs += us
    const key = `${functionName}\n${url}\n${lineNumber}`
    const row = rows.get(key) ?? { functionName: functionName || '(anonymous)', url, line: lineNumber + 1, column: columnNumber, selfMs: 0 }
    row.selfMs += us / 1000
    rows.set(key, row)
  }
  const locate = await sourceLocator()
  const all = [...rows.values()].map((row) => ({ ...row, source: isAppUrl(row.url) ? locate(row.url, row.line, row.column) : null }))
  const bySource = new Map<string, number>()
  for (const row of all) {
    if (!isAppUrl(row.url)) continue
    const file = row.source?.replace(/:\d+.*$/, '') ?? row.url
    bySource.set(file, (bySource.get(file) ?? 0) + row.selfMs)
  }
  const pct = (ms: number) => (busyUs > 0 ? (ms * 1000 * 100) / busyUs : 0)

  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const fileOf = new Map<number, string | null>()
  const sourceFile = (id: number) => {
    if (!fileOf.has(id)) {
      const { url, lineNumber, columnNumber } = byNode.get(id)!.callFrame
      fileOf.set(id, isAppUrl(url) ? (locate(url, lineNumber + 1, columnNumber)?.replace(/:\d+.*$/, '') ?? url) : null)
    }
    return fileOf.get(id)!
  }
  let appInclusiveUs = 0
  const ownInclusive = new Map<string, number>()
  for (const [id, us] of selfUs) {
    if (byNode.get(id)!.callFrame.functionName === IDLE) continue
    const files = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const file = sourceFile(at)
      if (file) files.add(file)
    }
    if (files.size > 0) appInclusiveUs += us
    for (const file of files)
      if (!file.startsWith('node_modules/') && !file.includes('/assets/')) ownInclusive.set(file, (ownInclusive.get(file) ?? 0) + us)
  }
  const strip = ({ column: _, ...row }: (typeof all)[number]) => ({ ...row, pct: pct(row.selfMs) })
  return {
    busyMs: busyUs / 1000,
    appPct: busyUs > 0 ? (appUs * 100) / busyUs : 0,
    top: all
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, 15)
      .map(strip),
    appInclusivePct: busyUs > 0 ? (appInclusiveUs * 100) / busyUs : 0,
    ownInclusiveBySource: [...ownInclusive]
      .map(([source, us]) => ({ source, pct: (us * 100) / busyUs }))
      .sort((a, b) => b.pct - a.pct)
      .slice(0, 10),
    appBySource: [...bySource]
      .map(([source, ms]) => ({ source, pct: pct(ms) }))
      .sort((a, b) => b.pct - a.pct)
      .slice(0, 10),
  }
}

/**
 * Maps a position in a bundle of dist/assets to its original file, line and
 * name through the bundle's source map. trace-mapping is vite's own
 * dependency, not ours: without it the bundle position is all there is.
 */
async function sourceLocator(): Promise<(url: string, line: number, column: number) => string | null> {
  let traceMapping: TraceMapping
  try {
    // Its package.json "exports" hide its types from TypeScript; this is the part used.
    const specifier = '@jridgewell/trace-mapping'
    traceMapping = (await import(specifier)) as TraceMapping
  } catch {
    return () => null
  }
  const maps = new Map<string, object | null>()
  return (url, line, column) => {
    const file = join(ROOT, 'dist/assets', url.slice(url.lastIndexOf('/') + 1))
    if (!maps.has(file)) maps.set(file, existsSync(`${file}.map`) ? new traceMapping.TraceMap(readFileSync(`${file}.map`, 'utf8')) : null)
    const map = maps.get(file)
    if (!map) return null
    const original = traceMapping.originalPositionFor(map, { line, column })
    if (!original.source) return null
    const source = original.source.replace(/^(\.\.\/)+/, '').replace(/^.*node_modules\//, 'node_modules/')
    return `${source}:${original.line}${original.name ? ` ${original.name}` : ''}`
  }
}

type TraceMapping = {
  TraceMap: new (map: string) => object
  originalPositionFor(
    map: object,
    needle: { line: number; column: number },
  ): { source: string | null; line: number | null; name: string | null }
}

function printResult(result: MeasureResult) {
  const { people, screen, seconds } = result.options
  const out = (line = '') => process.stdout.write(`${line}\n`)
  if (result.profile) {
    const { profile } = result
    out(
      `\nCPU profile of ${NAMES[0]} over ${seconds} s: ${profile.busyMs.toFixed(0)} ms busy, app JS (/assets/*.js) ${profile.appPct.toFixed(1)} % of it`,
    )
    out('  self ms   share  function (url:line) [source]')
    for (const row of profile.top) {
      const where = row.url ? `${row.url.replace(/^https?:\/\/[^/]+/, '')}:${row.line}` : ''
      out(
        `  ${row.selfMs.toFixed(1).padStart(7)}  ${row.pct.toFixed(1).padStart(5)} %  ${row.functionName} ${where ? `(${where})` : ''}${row.source ? ` [${row.source}]` : ''}`,
      )
    }
    out('  app self time by source file:')
    for (const { source, pct } of profile.appBySource) out(`  ${pct.toFixed(1).padStart(14)} %  ${source}`)
    out(`  with an app frame on the stack (inclusive): ${profile.appInclusivePct.toFixed(1)} %; meshcall's own files, inclusive:`)
    for (const { source, pct } of profile.ownInclusiveBySource) out(`  ${pct.toFixed(1).padStart(14)} %  ${source}`)
  }
  if (result.renders) {
    out(
      `\nReact on ${NAMES[0]}: ${result.renders.commitsPerSecond.toFixed(1)} commits/s; renders/s by component (minified name <element>):`,
    )
    for (const { component, perSecond } of result.renders.components) out(`  ${perSecond.toFixed(1).padStart(7)}  ${component}`)
  }
  out(`\n${people} people${screen ? ', with a screen share' : ''}, ${seconds} s window (percent of one core)`)
  out('  page   busy %  script %  layout+style %')
  for (const page of result.pages) {
    out(
      `  ${page.name.padEnd(5)} ${page.busyPct.toFixed(1).padStart(7)} ${page.scriptPct.toFixed(1).padStart(9)} ${page.layoutStylePct.toFixed(1).padStart(15)}`,
    )
  }
  const mean = (key: 'busyPct' | 'scriptPct' | 'layoutStylePct') =>
    result.pages.reduce((sum, page) => sum + page[key], 0) / result.pages.length
  out(
    `  mean  ${mean('busyPct').toFixed(1).padStart(7)} ${mean('scriptPct').toFixed(1).padStart(9)} ${mean('layoutStylePct').toFixed(1).padStart(15)}`,
  )
  if (result.machineBusyPct !== null) out(`  the machine was ${result.machineBusyPct.toFixed(0)} % busy (all cores) over the window`)
  if (result.stopScreenMs !== null) out(`  Stop presenting took ${result.stopScreenMs} ms to reach every page`)
}

function usage(message: string): never {
  process.stderr.write(
    `measure-pages: ${message}\nusage: npx tsx scripts/measure-pages.ts [--people 3|4] [--screen] [--seconds 10] [--quality standard|low] [--profile] [--json]\n`,
  )
  process.exit(2)
}

async function main() {
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        people: { type: 'string', default: '3' },
        screen: { type: 'boolean', default: false },
        seconds: { type: 'string', default: '10' },
        profile: { type: 'boolean', default: false },
        quality: { type: 'string', default: 'standard' },
        json: { type: 'boolean', default: false },
      },
    }))
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error))
  }
  const people = Number(values.people)
  const seconds = Number(values.seconds)
  if (!Number.isInteger(people) || people < 2 || people > NAMES.length) usage(`--people must be a whole number from 2 to ${NAMES.length}`)
  if (!Number.isFinite(seconds) || seconds <= 0) usage('--seconds must be a positive number')
  const quality = values.quality
  if (!isVideoQuality(quality)) usage(`--quality must be one of ${VIDEO_QUALITIES.join(', ')}`)
  const result = await measurePages({
    people,
    seconds,
    screen: values.screen,
    profile: values.profile,
    quality,
    log: (line) => process.stderr.write(`${line}\n`),
  })
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 1)}\n`)
  else printResult(result)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`measure-pages: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    },
  )
}
