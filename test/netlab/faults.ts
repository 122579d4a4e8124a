/**
 * Faults on a participant's network, each applied on its router (or, for an
 * address change, its home) and each undone by `restore()`. Each nft fault is
 * a table of its own in the router's namespace, so faults stack and restoring
 * one leaves the others and the NAT alone.
 *
 * @example
 * ```ts
 * const cut = cutLink(lab, lab.participants[0])
 * // … the participant is offline …
 * cut.restore()
 * ```
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Lab, Participant } from './lab'

/** An applied fault. */
export type Fault = { name: string; restore(): void }

let sequence = 0

/** Adds a table with forward (and optionally input/output) chains holding `rules`, in the router's namespace. */
function nftFault(lab: Lab, p: Participant, name: string, rules: string, hooks: ('forward' | 'input' | 'output')[] = ['forward']): Fault {
  const table = `mcfault_${++sequence}`
  const chains = hooks
    .map(
      (hook) => `  chain ${hook} {
    type filter hook ${hook} priority filter - 10; policy accept;
${rules
  .trim()
  .split('\n')
  .map((line) => `    ${line.trim()}`)
  .join('\n')}
  }`,
    )
    .join('\n')
  lab.exec(p.router, 'nft', ['-f', '-'], `table inet ${table} {\n${chains}\n}\n`)
  let restored = false
  return {
    name: `${name} (participant ${p.index})`,
    restore: () => {
      if (restored) return
      restored = true
      lab.exec(p.router, 'nft', ['delete', 'table', 'inet', table])
    },
  }
}

/** Cuts the participant off: its router drops everything, both ways, including what is addressed to the router itself. */
export function cutLink(lab: Lab, p: Participant): Fault {
  return nftFault(lab, p, 'link cut', 'drop', ['forward', 'input', 'output'])
}

/** Drops every UDP packet through the router, both ways; TCP still passes. */
export function blockUdp(lab: Lab, p: Participant): Fault {
  return nftFault(lab, p, 'UDP blocked', 'meta l4proto udp drop')
}

/**
 * Lets through only TCP to the given ports of `address` (the TURN server's
 * TCP port, and the room server's so that signaling still works) and the
 * replies; everything else through the router is dropped.
 */
export function allowOnlyTcpTo(lab: Lab, p: Participant, address: string, ports: number[]): Fault {
  const set = `{ ${ports.join(', ')} }`
  return nftFault(
    lab,
    p,
    `only TCP to ${address} ports ${ports.join(',')}`,
    `ip daddr ${address} tcp dport ${set} accept
     ip saddr ${address} tcp sport ${set} accept
     drop`,
  )
}

/**
 * Drops UDP between the participant and `address` (another participant's
 * public address), both ways: those two cannot connect directly, and every
 * other path is left alone.
 */
export function blockUdpWith(lab: Lab, p: Participant, address: string): Fault {
  return nftFault(
    lab,
    p,
    `UDP with ${address} blocked`,
    `ip daddr ${address} meta l4proto udp drop
     ip saddr ${address} meta l4proto udp drop`,
  )
}

/** Drops `percent` % of the packets through the router, at random, both ways. */
export function randomLoss(lab: Lab, p: Participant, percent: number): Fault {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error('percent must be a whole number from 0 to 100')
  // numgen's values are 0–99, so 100 % is a plain drop (and 0 % no rule at all).
  const rule = percent === 100 ? 'drop' : percent === 0 ? '' : `numgen random mod 100 < ${percent} drop`
  return nftFault(lab, p, `${percent}% loss`, rule)
}

/** Drops `percent` % of what the participant sends (its uplink), at random; what it receives passes. */
export function uplinkLoss(lab: Lab, p: Participant, percent: number): Fault {
  if (!Number.isInteger(percent) || percent < 1 || percent > 99) throw new Error('percent must be a whole number from 1 to 99')
  return nftFault(lab, p, `${percent}% uplink loss`, `oifname "${p.wanIf}" numgen random mod 100 < ${percent} drop`)
}

/**
 * Blackholes the signaling connection: TCP to and from the room server's
 * port is dropped silently, with no RST, so the socket stays open until
 * something notices that nothing arrives.
 */
export function blackholeSignaling(lab: Lab, p: Participant, port: number): Fault {
  const server = lab.server.address
  return nftFault(
    lab,
    p,
    `signaling blackholed`,
    `ip daddr ${server} tcp dport ${port} drop
     ip saddr ${server} tcp sport ${port} drop`,
  )
}

/**
 * Caps the router's uplink to `kbit` kbit/s with a token bucket filter on its
 * WAN interface, whose queue holds `queueMs` of traffic (home routers hold a
 * few hundred ms; a queue much shorter than a keyframe takes to send drops
 * every keyframe). This kernel has no `netem`, so there is no other delay or jitter.
 */
export function rateCap(lab: Lab, p: Participant, kbit: number, queueMs = 400): Fault {
  lab.exec(p.router, 'tc', [
    'qdisc',
    'replace',
    'dev',
    p.wanIf,
    'root',
    'tbf',
    'rate',
    `${kbit}kbit`,
    'burst',
    '16kb',
    'latency',
    `${queueMs}ms`,
  ])
  let restored = false
  return {
    name: `uplink capped to ${kbit} kbit/s, ${queueMs} ms of queue (participant ${p.index})`,
    restore: () => {
      if (restored) return
      restored = true
      lab.exec(p.router, 'tc', ['qdisc', 'del', 'dev', p.wanIf, 'root'])
    },
  }
}

/** Moves the home to `to`: adds it, moves the default route to it, removes the current address. */
function moveAddress(lab: Lab, p: Participant, to: string): void {
  const from = p.address
  if (from === to) return
  lab.exec(p.home, 'ip', ['addr', 'add', `${to}/24`, 'dev', p.homeIf])
  lab.exec(p.home, 'ip', ['route', 'replace', 'default', 'via', p.gateway, 'src', to])
  lab.exec(p.home, 'ip', ['addr', 'del', `${from}/24`, 'dev', p.homeIf])
  p.address = to
}

/**
 * Changes the participant's address, as a laptop moving to another network
 * would (on the same router, so its public address stays): a new 100.64
 * address is added, the default route moves to it and the old one is
 * removed. Sockets bound to the old address stop working. `restore()` moves
 * back.
 */
export function changeAddress(lab: Lab, p: Participant, to = `100.64.${p.index}.${3 + (sequence++ % 200)}`): Fault {
  const from = p.address
  moveAddress(lab, p, to)
  let restored = false
  return {
    name: `address ${from} → ${to} (participant ${p.index})`,
    restore: () => {
      if (restored) return
      restored = true
      moveAddress(lab, p, from)
    },
  }
}

/** Keeps `faults` applied for `ms` (the scenario's defined outage), then restores them, whatever happens. */
export async function holdFor(faults: Fault[], ms: number): Promise<void> {
  try {
    await sleep(ms)
  } finally {
    faults.forEach((f) => f.restore())
  }
}
