import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type RoomServer = {
  /** `127.0.0.1:PORT` */
  host: string
  port: number
  /** `ws://HOST/parties/main/ROOM?QUERY` */
  wsUrl(room: string, query?: Record<string, string>): string
  httpUrl(room: string, query?: Record<string, string>): string
  /** Everything the server printed, for failure messages. */
  output(): string
  /** Kills the server process and waits until it is gone; storage is kept. */
  kill(): Promise<void>
  /** Starts it again on the same port with the same storage. */
  restart(): Promise<void>
  /**
   * Freezes the server (SIGSTOP to its process group): its sockets stay open
   * but nothing is answered, as a blackholed path looks to a client. `resume()`
   * lets it go on (SIGCONT).
   */
  pause(): void
  resume(): void
  /** Stops the server and deletes its storage. */
  stop(): Promise<void>
}

const ROOT = new URL('../..', import.meta.url).pathname
const PARTYKIT = join(ROOT, 'node_modules/.bin/partykit')

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') return reject(new Error('no port'))
      server.close(() => resolve(address.port))
    })
  })
}

/**
 * Starts the real `partykit dev` on a free loopback port with the given
 * MESHCALL_* variables (and another party's `config`, for the bench's bare relay), and resolves once it answers HTTP. Call `stop()` in
 * `afterAll`.
 */
export async function startRoomServer(vars: Record<string, string> = {}, { config }: { config?: string } = {}): Promise<RoomServer> {
  const port = await freePort()
  const persist = mkdtempSync(join(tmpdir(), 'meshcall-party-'))
  let child: ChildProcess | undefined
  let log = ''

  const launch = async () => {
    const args = ['dev', '--port', String(port), '--persist', persist, '--disable-request-cf-fetch', '--no-hotkeys']
    if (config) args.push('--config', config)
    for (const [key, value] of Object.entries(vars)) args.push('--var', `${key}=${value}`)
    const proc = spawn(PARTYKIT, args, {
      cwd: ROOT,
      // Its own process group, so stopping it also stops workerd.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PARTYKIT_DEV_BIND: '127.0.0.1', NO_COLOR: '1' },
    })
    child = proc
    proc.stdout?.on('data', (chunk) => (log += chunk))
    proc.stderr?.on('data', (chunk) => (log += chunk))
    const deadline = Date.now() + 45_000
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`partykit dev exited with ${proc.exitCode}:\n${log}`)
      let response: Response | undefined
      try {
        response = await fetch(`http://127.0.0.1:${port}/parties/main/readiness`)
      } catch {
        // not listening yet
      }
      if (response && response.status < 500) return
      // The room refuses everything with 500 when its configuration is invalid.
      if (response?.status === 500) throw new Error(`room server refused to start: ${await response.text()}`)
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    throw new Error(`partykit dev did not answer on port ${port} within 45 s:\n${log}`)
  }

  const kill = async () => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.pid === undefined) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    try {
      process.kill(-proc.pid, 'SIGKILL')
    } catch {
      // already gone
    }
    await exited
    // workerd may outlive its parent for a moment; wait until the port is free.
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      try {
        await fetch(`http://127.0.0.1:${port}/`)
      } catch {
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  // If this process ends without stop() (a crash, a bench that threw), don't leave workerd behind.
  const killOnExit = () => {
    if (child?.pid === undefined || child.exitCode !== null) return
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  process.once('exit', killOnExit)
  try {
    await launch()
  } catch (error) {
    process.off('exit', killOnExit)
    await kill()
    throw error
  }
  const query = (q?: Record<string, string>) => (q && Object.keys(q).length ? `?${new URLSearchParams(q)}` : '')
  return {
    host: `127.0.0.1:${port}`,
    port,
    wsUrl: (room, q) => `ws://127.0.0.1:${port}/parties/main/${room}${query(q)}`,
    httpUrl: (room, q) => `http://127.0.0.1:${port}/parties/main/${room}${query(q)}`,
    output: () => log,
    kill,
    pause: () => signalGroup(child, 'SIGSTOP'),
    resume: () => signalGroup(child, 'SIGCONT'),
    restart: async () => {
      await kill()
      await launch()
    },
    stop: async () => {
      process.off('exit', killOnExit)
      await kill()
      rmSync(persist, { recursive: true, force: true })
    },
  }
}

function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child || child.exitCode !== null || child.pid === undefined) throw new Error(`no running room server to send ${signal} to`)
  process.kill(-child.pid, signal)
}
