/**
 * What one namespace of the lab can reach, asked from inside it: one ping, a
 * TCP connect, an HTTP GET. Each answers once, within about a second, so a
 * caller polls it with {@link waitFor}.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** True when one ICMP echo from `ns` to `address` is answered within a second. */
export async function canPing(ns: string, address: string): Promise<boolean> {
  return run('ip', ['netns', 'exec', ns, 'ping', '-n', '-q', '-c1', '-W1', address]).then(
    () => true,
    () => false,
  )
}

/** True when a TCP connection from `ns` to `address:port` is accepted within a second (bash's /dev/tcp, so no tool is needed). */
export async function canConnect(ns: string, address: string, port: number): Promise<boolean> {
  return run('ip', ['netns', 'exec', ns, 'timeout', '1', 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`]).then(
    () => true,
    () => false,
  )
}

/** The HTTP status of a GET from `ns`, or null when nothing answers within 2 s. */
export async function httpStatus(ns: string, url: string): Promise<number | null> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(2000) }).then((r) => console.log(r.status), () => console.log('none'))`
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script]).catch(() => ({ stdout: 'none' }))
  const status = Number(stdout.trim())
  return Number.isInteger(status) ? status : null
}

/**
 * Polls `check` until it returns true, every 100 ms, and throws `what` (with
 * `detail()`) after `timeoutMs`. Returns how long it took, in ms.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { what, timeoutMs = 10_000, detail }: { what: string; timeoutMs?: number; detail?: () => string },
): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await check()) return Date.now() - started
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * True when a STUN binding request (RFC 8489 §6) over UDP from `ns` gets an
 * answer from `address:port` within `deadlineMs`: a UDP round trip with no
 * extra tool. The probe exits as soon as the answer comes; a path that
 * drops UDP never answers, so only the deadline (the child is killed) says no.
 */
export async function canStun(ns: string, address: string, port: number, deadlineMs = 1_000): Promise<boolean> {
  const script = `
const s = require('node:dgram').createSocket('udp4')
const req = Buffer.alloc(20); req.writeUInt16BE(1, 0); req.writeUInt32BE(0x2112a442, 4); require('node:crypto').randomFillSync(req, 8, 12)
s.on('message', () => process.exit(0))
s.send(req, ${port}, ${JSON.stringify(address)})`
  return run('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { timeout: deadlineMs, killSignal: 'SIGKILL' }).then(
    () => true,
    () => false,
  )
}
