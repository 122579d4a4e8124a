import type { IceServer } from '../protocol/messages'

/**
 * Time-limited TURN credentials in coturn's `use-auth-secret` scheme (the
 * "TURN REST API" draft): the username is `expiry:peerId`, with `expiry` in
 * Unix seconds, and the password is base64(HMAC-SHA1(secret, username)).
 * coturn recomputes the HMAC with the same shared secret and refuses the
 * allocation after `expiry`.
 */
export async function turnCredential(
  secret: string,
  peerId: string,
  ttlSeconds: number,
  nowMs = Date.now(),
): Promise<{ username: string; credential: string }> {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds
  const username = `${expiry}:${peerId}`
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign'])
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(username)))
  return { username, credential: btoa(String.fromCharCode(...mac)) }
}

/**
 * The `iceServers` a peer receives in `welcome`. STUN URLs are passed as they
 * are; TURN URLs get per-peer credentials when a shared secret is set. With no
 * URLs configured the list is empty: host candidates suffice on one machine
 * or a LAN.
 */
export async function iceServersFor(
  peerId: string,
  config: { iceUrls: string[]; turnSecret: string | undefined; turnTtlSeconds: number },
): Promise<IceServer[]> {
  const stun = config.iceUrls.filter((url) => url.startsWith('stun'))
  const turn = config.iceUrls.filter((url) => url.startsWith('turn'))
  const servers: IceServer[] = []
  if (stun.length > 0) servers.push({ urls: stun })
  if (turn.length > 0) {
    if (config.turnSecret) {
      servers.push({ urls: turn, ...(await turnCredential(config.turnSecret, peerId, config.turnTtlSeconds)) })
    } else {
      servers.push({ urls: turn })
    }
  }
  return servers
}
