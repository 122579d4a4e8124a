/**
 * The lab's servers, in its server namespace: the real room server
 * (`partykit dev`, bound to the server's address) and Debian's coturn
 * (STUN and TURN, with coturn's shared-secret credentials).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ensureAppBuilt } from '../support/appServer'
import type { Lab, LabProcess } from './lab'
import { canConnect, httpStatus, waitFor } from './probes'

const ROOT = new URL('../..', import.meta.url).pathname
/** The deployment's config: the same room server, serving `dist/` with the single-page fallback for `/r/<room>`. */
const DEPLOY_CONFIG = join(ROOT, 'partykit.deploy.json')

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
 *
 * With `serve` it also serves the built app, as a deployment
 * does: `dist/` is built first if it is stale ({@link ensureAppBuilt}, about
 * 2 s), and the server runs with the deployment's config (`serve` with the
 * single-page fallback), so a browser in a home opens
 * `http://ADDRESS:PORT/r/ROOM` from the room server's own origin, which is
 * where the page looks for the room server. The build happens before the
 * start: partykit restarts its worker, and drops every room, when the files
 * it serves change.
 */
export async function startLabRoomServer(
  lab: Lab,
  { port = 1999, vars = {}, serve = false }: { port?: number; vars?: Record<string, string>; serve?: boolean } = {},
): Promise<LabServer> {
  const address = lab.server.address
  if (serve) await ensureAppBuilt()
  const persist = mkdtempSync(join(lab.tmp, 'party-'))
  const args = ['dev', '--port', String(port), '--persist', persist, '--disable-request-cf-fetch', '--no-hotkeys']
  if (serve) args.push('--config', DEPLOY_CONFIG)
  // The deployment's public STUN server is out of the lab's reach: only the lab's own servers are handed out.
  for (const [key, value] of Object.entries({ ...(serve ? { MESHCALL_ICE_URLS: '' } : {}), ...vars })) args.push('--var', `${key}=${value}`)
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
    let page: number | null = null
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`partykit dev exited with ${proc.child.exitCode}:\n${proc.output()}`)
        last = await httpStatus(lab.server.ns, `http://${address}:${port}/parties/main/readiness`)
        // The room refuses everything with 500 when its configuration is invalid.
        if (last === 500) throw new Error(`room server refused to start:\n${proc.output()}`)
        if (last === null || last >= 500) return false
        page = serve ? await httpStatus(lab.server.ns, `http://${address}:${port}/`) : null
        return !serve || page === 200
      },
      {
        what: `partykit dev on ${address}:${port}${serve ? ', serving the app' : ''}`,
        timeoutMs: 60_000,
        detail: () => `last status ${last}${serve ? `, GET / ${page}` : ''}\n${proc.output().slice(-2000)}`,
      },
    )
  } catch (error) {
    await stop()
    throw error
  }
  return { process: proc, address, port, stop }
}
