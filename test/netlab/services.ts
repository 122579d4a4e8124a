/**
 * The lab's servers, in its server namespace: the real room server
 * (`partykit dev`, bound to the server's address) and Debian's coturn
 * (STUN and TURN, with coturn's shared-secret credentials).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Lab, LabProcess } from './lab'
import { canConnect, httpStatus, waitFor } from './probes'

const ROOT = new URL('../..', import.meta.url).pathname

export type LabServer = { process: LabProcess; address: string; port: number; stop(): Promise<void> }

/** The TURN server's port, STUN and TURN over UDP and TCP. */
export const TURN_PORT = 3478

/**
 * Starts coturn on the server's address, with `use-auth-secret` and the
 * given `static-auth-secret` (the room server's MESHCALL_TURN_SECRET), and
 * resolves once it accepts TCP on {@link TURN_PORT}. No TLS, no CLI, no
 * config file, no Debian service.
 */
export async function startCoturn(lab: Lab, { secret, realm = 'meshcall.lab' }: { secret: string; realm?: string }): Promise<LabServer> {
  const address = lab.server.address
  const dir = mkdtempSync(join(lab.tmp, 'coturn-'))
  const proc = lab.spawn(lab.server.ns, 'turnserver', [
    '-n',
    `--listening-ip=${address}`,
    `--relay-ip=${address}`,
    `--listening-port=${TURN_PORT}`,
    '--min-port=49152',
    '--max-port=49999',
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    '--no-software-attribute',
    ...(process.env.NETLAB_TURN_VERBOSE ? [process.env.NETLAB_TURN_VERBOSE === '2' ? '-V' : '--verbose'] : []),
  ])
  const stop = async () => {
    await proc.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(() => canConnect(lab.server.ns, address, TURN_PORT), {
      what: `coturn on ${address}:${TURN_PORT}`,
      timeoutMs: 15_000,
      detail: () => proc.output().slice(-2000),
    })
  } catch (error) {
    await stop()
    throw error
  }
  return { process: proc, address, port: TURN_PORT, stop }
}

/**
 * Starts `partykit dev` in the server namespace, bound to the server's
 * address (`PARTYKIT_DEV_BIND`), with the given MESHCALL_* variables, and
 * resolves once it answers HTTP from inside the lab.
 */
export async function startLabRoomServer(
  lab: Lab,
  { port = 1999, vars = {} }: { port?: number; vars?: Record<string, string> } = {},
): Promise<LabServer> {
  const address = lab.server.address
  const persist = mkdtempSync(join(lab.tmp, 'party-'))
  const args = ['dev', '--port', String(port), '--persist', persist, '--disable-request-cf-fetch', '--no-hotkeys']
  for (const [key, value] of Object.entries(vars)) args.push('--var', `${key}=${value}`)
  const proc = lab.spawn(lab.server.ns, join(ROOT, 'node_modules/.bin/partykit'), args, {
    cwd: ROOT,
    env: { ...process.env, PARTYKIT_DEV_BIND: address, NO_COLOR: '1' },
  })
  const stop = async () => {
    await proc.stop()
    rmSync(persist, { recursive: true, force: true })
  }
  try {
    let last: number | null = null
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`partykit dev exited with ${proc.child.exitCode}:\n${proc.output()}`)
        last = await httpStatus(lab.server.ns, `http://${address}:${port}/parties/main/readiness`)
        // The room refuses everything with 500 when its configuration is invalid.
        if (last === 500) throw new Error(`room server refused to start:\n${proc.output()}`)
        return last !== null && last < 500
      },
      { what: `partykit dev on ${address}:${port}`, timeoutMs: 60_000, detail: () => `last status ${last}\n${proc.output().slice(-2000)}` },
    )
  } catch (error) {
    await stop()
    throw error
  }
  return { process: proc, address, port, stop }
}
