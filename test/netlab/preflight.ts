/**
 * What the lab needs from this machine, checked before anything is built:
 * root (network namespaces and nftables need CAP_NET_ADMIN and
 * CAP_SYS_ADMIN), iproute2's `ip`, and the tools the lab runs inside its
 * namespaces.
 */
import { execFileSync } from 'node:child_process'

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export type Preflight = {
  /** Root and `ip`: without them there is no lab at all. Null when both are there. */
  noLab: string | null
  /** Tools `.ci/run` installs (nft, ping, turnserver, tc): missing ones fail the suite everywhere. Null when all are there. */
  missingTools: string | null
}

/** Checks the machine; each field is one line saying what is missing, or null. */
export function preflight(): Preflight {
  const lacks: string[] = []
  if (process.getuid?.() !== 0) lacks.push(`root (running as uid ${process.getuid?.()})`)
  if (!has('ip')) lacks.push("iproute2's `ip`")
  const tools = ['nft', 'ping', 'turnserver', 'tc'].filter((tool) => !has(tool))
  return {
    noLab: lacks.length > 0 ? `the network lab needs ${lacks.join(' and ')}` : null,
    missingTools:
      tools.length > 0
        ? `the network lab needs ${tools.join(', ')}: apt-get install --no-install-recommends nftables iputils-ping coturn iproute2`
        : null,
  }
}
