import { jwtVerify, SignJWT, errors } from 'jose'
import { MAX_NAME_LENGTH } from '../protocol/messages'

/** What a valid join token grants. */
export type TokenClaims = { room: string; name: string }

const ALG = 'HS256'

/**
 * Mints a join token: a JWT signed HS256 with the room server's secret,
 * naming the room, the display name and an expiry.
 *
 * @example
 * const token = await mintToken(secret, { room: 'standup', name: 'Ada' }, 3600)
 * // connect to /parties/main/standup?token=<token>
 */
export async function mintToken(secret: string, claims: TokenClaims, ttlSeconds: number): Promise<string> {
  return new SignJWT({ room: claims.room, name: claims.name })
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(new TextEncoder().encode(secret))
}

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: string }

/** Checks a join token for `room`. Never throws: a refusal carries its reason. */
export async function verifyToken(secret: string, token: string | null, room: string): Promise<VerifyResult> {
  if (!token) return { ok: false, reason: 'a token is required to join this room' }
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: [ALG],
      requiredClaims: ['exp', 'room', 'name'],
    })
    if (payload.room !== room) return { ok: false, reason: 'the token is for another room' }
    if (typeof payload.name !== 'string' || payload.name.trim() === '') {
      return { ok: false, reason: 'the token names no display name' }
    }
    return { ok: true, claims: { room, name: payload.name.trim().slice(0, MAX_NAME_LENGTH) } }
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: 'the token has expired' }
    if (error instanceof errors.JOSEError) return { ok: false, reason: `the token is invalid (${error.code})` }
    throw error
  }
}
