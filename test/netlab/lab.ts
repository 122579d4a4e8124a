/**
 * A network lab of Linux network namespaces, made and destroyed by code.
 *
 * ```
 *                 internet (bridge, 198.51.100.0/24)
 *        ┌──────────────┼──────────────┬─── …
 *     server          router 1       router 2        WAN 198.51.100.2N, NAT (nftables)
 *  198.51.100.10         │              │
 *  room server, coturn  home 1         home 2         100.64.N.2, default route via 100.64.N.1
 * ```
 *
 * Safety: only documentation ranges (198.51.100.0/24) are "public" and
 * 100.64.0.0/10 sits behind the NATs. No namespace has a link to the root
 * namespace or a route out of the lab: every veth is created inside a lab
 * namespace with its peer in another one. The root namespace's firewall and
 * routes are never touched; every nft rule lives in a lab namespace. Every
 * name carries the run's prefix (`mc` and 4 hex digits), and a lab left
 * behind by a crashed run is removed by {@link removeLeftovers}.
 *
 * @example
 * ```ts
 * const lab = createLab({ nats: ['eim', 'symmetric'] })
 * try {
 *   lab.exec(lab.participants[0].home, 'ping', ['-c1', '-W1', lab.server.address])
 * } finally {
 *   lab.teardown()
 * }
 * ```
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** How a participant's router translates: `eim` keeps ports (endpoint-independent mapping), `symmetric` picks a random port per destination. */
export type NatKind = 'eim' | 'symmetric'

/** One participant: a NAT router and the home network behind it. */
export type Participant = {
  /** 1-based. */
  index: number
  nat: NatKind
  /** Namespace of the router. */
  router: string
  /** Namespace of the home network, where the participant's processes run. */
  home: string
  /** The router's interface on the internet bridge. */
  wanIf: string
  /** The router's public address, 198.51.100.(20 + index). */
  wanAddress: string
  /** The router's address on the home network, 100.64.index.1. */
  gateway: string
  /** The home's interface. */
  homeIf: string
  /** The home's current address (see `changeAddress` in faults.ts). */
  address: string
}

/** A process running inside a lab namespace. */
export type LabProcess = {
  ns: string
  child: ChildProcess
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string
  stdout(): string
  /** Resolves with its exit code (null when killed by a signal). */
  exited: Promise<number | null>
  /** Kills its whole process group and waits until it is gone. */
  stop(): Promise<void>
}

export type Lab = {
  /** The run's prefix, e.g. `mc3fa0`; every namespace and interface name starts with it. */
  id: string
  /** Namespace holding the internet bridge. */
  internet: string
  server: { ns: string; address: string }
  participants: Participant[]
  /** A temporary directory for the lab's files (logs, storage, dumps), deleted at teardown. */
  tmp: string
  /** Runs a command in a namespace and returns its stdout; throws with its stderr when it fails. */
  exec(ns: string, command: string, args: string[], input?: string): string
  /** Starts a long-running process in a namespace; it is killed at teardown. */
  spawn(ns: string, command: string, args: string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string }): LabProcess
  /** Kills every process in the lab and deletes its namespaces. Safe to call twice. */
  teardown(): void
}

/** Every lab namespace name starts with `mc`, 4 hex digits and a dash. */
export const LEFTOVER_PATTERN = /^mc[0-9a-f]{4}-/

/** The lab's "public" network, a documentation range (RFC 5737). */
export const INTERNET = { prefix: '198.51.100', mask: 24 }
/** Where the homes are: behind the NATs, unreachable from the internet. */
const HOMES = '100.64.0.0/10'

/** The server's address on the internet bridge. */
export const SERVER_ADDRESS = `${INTERNET.prefix}.10`

function sh(command: string, args: string[], input?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? ''
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || String(error)}`)
  }
}

/** Lab namespaces that exist now (any run's). */
export function labNamespaces(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => LEFTOVER_PATTERN.test(name))
}

/** Kills every process inside a namespace (by `ip netns pids`), then deletes it. */
function destroyNamespace(ns: string): void {
  let pids: string[] = []
  try {
    pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)
  } catch {
    // already gone
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // exited meanwhile
    }
  }
  try {
    sh('ip', ['netns', 'delete', ns])
  } catch {
    // already gone
  }
}

/** Where each live lab notes its owner: `<id>` holds the pid of the process that built it. */
const OWNERS = '/run/meshcall-netlab'

/** Whether the lab `id` belongs to a process that is still running (a lab being used right now). */
function isOwnedByLiveProcess(id: string): boolean {
  let pid: number
  try {
    pid = Number(readFileSync(join(OWNERS, id), 'utf8'))
  } catch {
    return false
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Removes the namespaces of labs from earlier runs that did not tear down
 * (a crash, a SIGKILL), with every process still inside them, and leaves
 * alone those of labs whose builder still runs (another `npm run netlab`,
 * another test run). Returns the names removed.
 */
export function removeLeftovers(): string[] {
  const leftovers = labNamespaces().filter((ns) => !isOwnedByLiveProcess(ns.split('-')[0]))
  leftovers.forEach(destroyNamespace)
  for (const id of new Set(leftovers.map((ns) => ns.split('-')[0]))) rmSync(join(OWNERS, id), { force: true })
  return leftovers
}

type Step = (line: string) => void

/**
 * Builds the lab: the internet bridge, the server and, for each entry of
 * `nats`, a router with that NAT kind and a home behind it. Removes any
 * leftovers first, and registers teardown on exit and on SIGINT/SIGTERM.
 * `log` receives a line per thing built.
 */
export function createLab({ nats, log = () => undefined }: { nats: NatKind[]; log?: Step }): Lab {
  const removed = removeLeftovers()
  if (removed.length > 0) log(`removed leftovers of a crashed run: ${removed.join(', ')}`)

  const id = `mc${randomBytes(2).toString('hex')}`
  const namespaces: string[] = []
  const processes = new Set<LabProcess>()
  let tornDown = false
  const tmp = mkdtempSync(join(tmpdir(), `${id}-`))
  mkdirSync(OWNERS, { recursive: true })
  writeFileSync(join(OWNERS, id), String(process.pid))

  const exec = (ns: string, command: string, args: string[], input?: string) => sh('ip', ['netns', 'exec', ns, command, ...args], input)
  const ip = (ns: string, ...args: string[]) => sh('ip', ['-n', ns, ...args])
  const addNamespace = (name: string) => {
    const ns = `${id}-${name}`
    sh('ip', ['netns', 'add', ns])
    namespaces.push(ns)
    ip(ns, 'link', 'set', 'lo', 'up')
    return ns
  }
  /** A veth pair made inside `nsA` with its peer in `nsB`: never a link to the root namespace. */
  const veth = (nsA: string, ifA: string, nsB: string, ifB: string) => {
    for (const name of [ifA, ifB]) if (name.length > 15) throw new Error(`interface name ${name} is over 15 characters`)
    ip(nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB)
    ip(nsA, 'link', 'set', ifA, 'up')
    ip(nsB, 'link', 'set', ifB, 'up')
  }

  const teardown = () => {
    if (tornDown) return
    tornDown = true
    process.off('exit', teardown)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    for (const proc of processes) {
      try {
        if (proc.child.pid !== undefined) process.kill(-proc.child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    // Anything else still inside (a grandchild that left its group) goes with its namespace.
    for (const ns of [...namespaces].reverse()) destroyNamespace(ns)
    rmSync(tmp, { recursive: true, force: true })
    rmSync(join(OWNERS, id), { force: true })
    log(`lab ${id} torn down`)
  }
  const onSignal = (signal: NodeJS.Signals) => {
    teardown()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.on('exit', teardown)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    const internet = addNamespace('inet')
    const bridge = `${id}-br`
    ip(internet, 'link', 'add', bridge, 'type', 'bridge')
    ip(internet, 'link', 'set', bridge, 'up')
    log(`internet ${internet}: bridge ${bridge}, ${INTERNET.prefix}.0/${INTERNET.mask}`)

    const server = addNamespace('srv')
    veth(server, `${id}-srv`, internet, `${id}-srvb`)
    ip(internet, 'link', 'set', `${id}-srvb`, 'master', bridge)
    ip(server, 'addr', 'add', `${SERVER_ADDRESS}/${INTERNET.mask}`, 'dev', `${id}-srv`)
    // On the internet a packet for a private address behind someone's NAT
    // just vanishes. Without a route the kernel answers "Network is
    // unreachable" at once instead, and coturn, told so while relaying to a
    // peer's host candidate, closes the whole allocation. On-link, it
    // vanishes (no one answers ARP), and stays in the lab.
    ip(server, 'route', 'add', HOMES, 'dev', `${id}-srv`)
    log(`server ${server}: ${SERVER_ADDRESS}`)

    const participants = nats.map((nat, i): Participant => {
      const index = i + 1
      const router = addNamespace(`r${index}`)
      const home = addNamespace(`h${index}`)
      const wanIf = `${id}-r${index}w`
      const homeIf = `${id}-h${index}`
      const lanIf = `${id}-r${index}l`
      const wanAddress = `${INTERNET.prefix}.${20 + index}`
      const gateway = `100.64.${index}.1`
      const address = `100.64.${index}.2`

      veth(router, wanIf, internet, `${id}-r${index}b`)
      ip(internet, 'link', 'set', `${id}-r${index}b`, 'master', bridge)
      ip(router, 'addr', 'add', `${wanAddress}/${INTERNET.mask}`, 'dev', wanIf)
      veth(router, lanIf, home, homeIf)
      ip(router, 'addr', 'add', `${gateway}/24`, 'dev', lanIf)
      exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
      exec(router, 'nft', ['-f', '-'], natRuleset(nat, wanIf))

      // So that moving to a new address (faults.ts) can delete the old one
      // without the kernel deleting the new one with it.
      exec(home, 'sysctl', ['-qw', `net.ipv4.conf.${homeIf}.promote_secondaries=1`])
      ip(home, 'addr', 'add', `${address}/24`, 'dev', homeIf)
      ip(home, 'route', 'add', 'default', 'via', gateway)
      log(`participant ${index}: home ${home} ${address} → router ${router} (${nat} NAT) ${wanAddress}`)
      return { index, nat, router, home, wanIf, wanAddress, gateway, homeIf, address }
    })

    const spawnIn: Lab['spawn'] = (ns, command, args, options = {}) => {
      if (tornDown) throw new Error(`lab ${id} is torn down`)
      const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        // Its own process group, so that stopping it stops its children too.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let all = ''
      let out = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        all += chunk
        out += chunk
      })
      child.stderr?.on('data', (chunk: Buffer) => (all += chunk))
      const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code) => resolve(code))
        child.once('error', () => resolve(null))
      })
      const proc: LabProcess = {
        ns,
        child,
        output: () => all,
        stdout: () => out,
        exited,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
            try {
              process.kill(-child.pid, 'SIGKILL')
            } catch {
              // already gone
            }
          }
          await exited
          processes.delete(proc)
        },
      }
      processes.add(proc)
      void exited.then(() => processes.delete(proc))
      return proc
    }

    return { id, internet, server: { ns: server, address: SERVER_ADDRESS }, participants, tmp, exec, spawn: spawnIn, teardown }
  } catch (error) {
    teardown()
    throw error
  }
}

/**
 * The router's NAT. Plain `masquerade` keeps the source port where it can,
 * so one inside port maps to one outside port whatever the destination
 * (endpoint-independent mapping, RFC 4787 §4.1); `masquerade random` picks
 * a port from a hash that includes the destination, so each destination
 * sees another port (a "symmetric" NAT).
 *
 * Both drop unsolicited packets to the router itself. Without that, a
 * peer's early check to our port is accepted into conntrack as a
 * connection to the router, and our own check to that peer then clashes
 * with it, so masquerade picks another port and hole punching fails
 * (Linux conntrack's well-known hole-punching race).
 */
function natRuleset(nat: NatKind, wanIf: string): string {
  return `table ip mclab_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${wanIf}" masquerade${nat === 'symmetric' ? ' random' : ''}
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${wanIf}" ct state != { established, related } drop
  }
}
`
}
