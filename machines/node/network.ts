import { networkInterfaces } from 'node:os'

/** How often the addresses are read: a change is seen within this long. */
const POLL_MS = 500

/** This host's addresses, internal ones (loopback) left out, in a stable order. */
function addresses(): string[] {
  return Object.entries(networkInterfaces())
    .flatMap(([name, infos]) => (infos ?? []).filter((info) => !info.internal).map((info) => `${name} ${info.address}`))
    .sort()
}

/**
 * Node's word on network changes, for `WebRTCImpl.watchNetwork`: the host's
 * addresses, read every {@link POLL_MS} (libwebrtc's own network monitor
 * watches the same, but tells the application nothing).
 */
export function watchNetwork(onChange: (what: string) => void): () => void {
  let known = addresses()
  const timer = setInterval(() => {
    const now = addresses()
    if (now.join() === known.join()) return
    const gone = known.filter((a) => !now.includes(a))
    const added = now.filter((a) => !known.includes(a))
    known = now
    onChange(`addresses changed: ${[...gone.map((a) => `-${a}`), ...added.map((a) => `+${a}`)].join(', ')}`)
  }, POLL_MS)
  timer.unref()
  return () => clearInterval(timer)
}
