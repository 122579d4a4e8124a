import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { get as httpGet } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMainThread } from 'node:worker_threads'
import { afterAll, beforeAll } from 'vitest'
import type { LogRecord } from '../../lib/log'
import { closeBrowsers } from './participant'
import { freePort } from './roomServer'

export type AppServer = {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string
  /** `127.0.0.1:PORT` */
  host: string
  port: number
  /** `http://HOST/r/ROOM?QUERY`, the page a participant opens to join `room`. */
  roomUrl(room: string, query?: Record<string, string>): string
  /** The room server's socket for `room`: `ws://HOST/parties/main/ROOM?QUERY`. */
  wsUrl(room: string, query?: Record<string, string>): string
  /** Everything the server printed, for failure messages. */
  output(): string
  /** The room server's structured log lines so far (its `lib/log` JSON), oldest first. */
  records(): LogRecord[]
  /** Stops the server (its whole process group) and deletes its storage. */
  stop(): Promise<void>
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(ROOT, 'dist')
const DEPLOY_CONFIG = join(ROOT, 'partykit.deploy.json')
const PARTYKIT = join(ROOT, 'node_modules/.bin/partykit')
const VITE = join(ROOT, 'node_modules/.bin/vite')
/** What the bundle is made from; a change to any of them makes `dist/` stale. */
const INPUTS = ['src', 'lib', 'machines', 'protocol', 'index.html', 'vite.config.ts', 'public']
/** Partykit does not serve dotfiles, so the stamp can live inside `dist/`. */
const STAMP = join(DIST, '.meshcall-build.json')
const LOCK = join(tmpdir(), `meshcall-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 8)}.lock`)
const MAX_OUTPUT = 200_000

/**
 * Identifies one `vitest run`: its test files run in forked children of the
 * main process (or in threads inside it), so they share this number.
 */
const RUN_ID = process.env.VITEST ? (isMainThread ? process.ppid : process.pid) : process.pid

type Stamp = { run: number; startedAt: number }

/**
 * Runs `vite build` into `dist/`.
 * @throws Error carrying vite's output when the build fails.
 */
export async function buildApp(): Promise<void> {
  // NODE_ENV as `npm run build` has it: Vitest sets it to `test`, and a build
  // that inherits that is React's development build (jsxDEV, debug stacks),
  // slower and bigger than what people get.
  const child = spawn(VITE, ['build'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', NO_COLOR: '1' },
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  if (code !== 0) throw new Error(`vite build failed (exit ${code}):\n${output}`)
}

/**
 * Builds the app unless `dist/` is newer than every input or was already
 * built (or found fresh) during this test run. Once per run: a second build
 * would replace the files that servers started earlier are serving. Test
 * files running in parallel wait for each other's build.
 */
export async function ensureAppBuilt(): Promise<'built' | 'fresh'> {
  return withBuildLock(async () => {
    const stamp = readStamp()
    const index = join(DIST, 'index.html')
    if (!existsSync(index)) return build()
    if (stamp?.run === RUN_ID) return 'fresh'
    const builtAt = stamp?.startedAt ?? statSync(index).mtimeMs
    if (newestInput() > builtAt) return build()
    writeStamp({ run: RUN_ID, startedAt: builtAt })
    return 'fresh'
  })
}

async function build(): Promise<'built'> {
  const startedAt = Date.now()
  await buildApp()
  // The start time, not the end: an edit made during the build must count as newer.
  writeStamp({ run: RUN_ID, startedAt })
  return 'built'
}

function readStamp(): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp
  } catch {
    return undefined
  }
}

function writeStamp(stamp: Stamp) {
  writeFileSync(STAMP, JSON.stringify(stamp))
}

function newestInput(): number {
  let newest = 0
  const visit = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false })
    if (!stat) return
    newest = Math.max(newest, stat.mtimeMs)
    if (!stat.isDirectory()) return
    for (const entry of readdirSync(path)) {
      if (!entry.startsWith('.') && entry !== 'node_modules') visit(join(path, entry))
    }
  }
  for (const input of INPUTS) visit(join(ROOT, input))
  return newest
}

/** A cross-process mutex: mkdir is atomic. A lock whose owner is gone, or older than a minute, is taken over. */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 180_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      writeFileSync(join(LOCK, 'pid'), String(process.pid))
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    if (lockAbandoned()) rmSync(LOCK, { recursive: true, force: true })
    if (Date.now() > deadline) throw new Error(`waited 180 s for another test file's app build (lock ${LOCK})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  try {
    return await work()
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

function lockAbandoned(): boolean {
  try {
    if (Date.now() - statSync(LOCK).mtimeMs > 60_000) return true
    const pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'))
    if (!pid) return false
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/**
 * partykit.json plus `serve`, with paths made absolute because the copy lives
 * in a temporary directory. `singlePageApp` makes partykit answer navigations
 * to unknown paths (`/r/ROOM`) with index.html; `--serve dist` alone would
 * answer them 404.
 */
/**
 * Builds the app if needed (see {@link ensureAppBuilt}), then starts the real
 * `partykit dev` on a free loopback port serving both the room server and
 * `dist/`, with the given MESHCALL_* variables. Resolves once the page and
 * the room answer. Call `stop()` in `afterAll`.
 *
 * @example
 * const app = await startAppServer({ MESHCALL_MAX_PEERS: '4' })
 * const alice = await openParticipant('firefox', app.roomUrl('standup'))
 */
export async function startAppServer(vars: Record<string, string> = {}): Promise<AppServer> {
  await ensureAppBuilt()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'meshcall-app-'))
  // The deployment's own config: the same room server, serving dist/ with
  // the single-page fallback for /r/<room>.
  const args = [
    'dev',
    '--config',
    DEPLOY_CONFIG,
    '--port',
    String(port),
    '--persist',
    join(dir, 'state'),
    '--disable-request-cf-fetch',
    '--no-hotkeys',
  ]
  // The deployment's public STUN server is out of reach here (and must not be
  // contacted from tests): loopback host candidates are all a test needs.
  for (const [key, value] of Object.entries({ MESHCALL_ICE_URLS: '', ...vars })) args.push('--var', `${key}=${value}`)

  const child = spawn(PARTYKIT, args, {
    cwd: ROOT,
    // Its own process group, so stopping it also stops workerd and the asset server.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PARTYKIT_DEV_BIND: '127.0.0.1', NO_COLOR: '1' },
  })
  let log = ''
  const collect = (chunk: Buffer) => {
    log += chunk
    if (log.length > MAX_OUTPUT) log = log.slice(-MAX_OUTPUT)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const killGroup = () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  // If the test process ends without afterAll (a crash, a timeout), don't leave workerd behind.
  process.once('exit', killGroup)

  const origin = `http://127.0.0.1:${port}`
  const stop = async () => {
    process.off('exit', killGroup)
    killGroup()
    await exited
    // workerd may outlive its parent for a moment; wait until the port is free.
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && (await answers(`${origin}/`))) await new Promise((resolve) => setTimeout(resolve, 100))
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    await waitUntilServing(
      origin,
      () => child.exitCode,
      () => log,
    )
  } catch (error) {
    await stop()
    throw error
  }
  const query = (q?: Record<string, string>) => (q && Object.keys(q).length ? `?${new URLSearchParams(q)}` : '')
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    port,
    roomUrl: (room, q) => `${origin}/r/${encodeURIComponent(room)}${query(q)}`,
    wsUrl: (room, q) => `ws://127.0.0.1:${port}/parties/main/${encodeURIComponent(room)}${query(q)}`,
    output: () => log,
    records: () => parseRecords(log),
    stop,
  }
}

/** The JSON log lines in partykit's output, which also holds its own banner and workerd's lines. */
function parseRecords(output: string): LogRecord[] {
  const records: LogRecord[] = []
  // partykit prints warnings and errors boxed in terminal colours.
  // eslint-disable-next-line no-control-regex
  for (const line of output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split('\n')) {
    const start = line.indexOf('{"level"')
    if (start < 0) continue
    try {
      records.push(JSON.parse(line.slice(start)) as LogRecord)
    } catch {
      // a line cut by the output's size cap
    }
  }
  return records
}

/**
 * GETs `url` as a browser's address bar would. Partykit serves index.html for
 * unknown paths only to requests marked `Sec-Fetch-Mode: navigate`, a header
 * that fetch() always overwrites with `cors`.
 */
function navigate(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('error', reject)
  })
}

async function answers(url: string): Promise<boolean> {
  return fetch(url).then(
    () => true,
    () => false,
  )
}

/** Resolves when the room answers and `/` serves the app's index.html. */
async function waitUntilServing(origin: string, exitCode: () => number | null, output: () => string): Promise<void> {
  const deadline = Date.now() + 45_000
  let page = 'no answer'
  while (Date.now() < deadline) {
    if (exitCode() !== null) throw new Error(`partykit dev exited with ${exitCode()}:\n${output()}`)
    try {
      const room = await fetch(`${origin}/parties/main/readiness`)
      // The room refuses everything with 500 when its configuration is invalid.
      if (room.status === 500) throw new Error(`room server refused to start: ${await room.text()}`)
      const index = await fetch(`${origin}/`)
      const html = await index.text()
      if (room.status < 500 && index.ok && html.includes('id="root"')) {
        const route = await navigate(`${origin}/r/readiness`)
        if (route.status === 200 && route.body.includes('id="root"')) return
        throw new Error(`partykit dev does not serve index.html for /r/ROOM (got ${route.status}); is serve.singlePageApp set?`)
      }
      page = `${index.status}: ${html.slice(0, 300)}`
    } catch (error) {
      // fetch() fails with a TypeError while nothing listens yet; anything else is real.
      if (!(error instanceof TypeError)) throw error
    }
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  throw new Error(`partykit dev did not serve the room and the app on ${origin} within 45 s (GET / gave ${page}):\n${output()}`)
}

/**
 * The built app for one test file: started before its tests, stopped (with
 * the file's browsers) after them. Returns a getter for the server.
 */
export function appForFile(vars: Record<string, string> = {}): () => AppServer {
  let app: AppServer | undefined
  beforeAll(async () => {
    app = await startAppServer(vars)
  }, 120_000)
  afterAll(async () => {
    await closeBrowsers()
    await app?.stop()
  })
  return () => {
    if (!app) throw new Error('the app server is not started yet')
    return app
  }
}
