import * as v from 'valibot'
import { LOG_LEVELS, type LogLevel } from '../lib/log'

/**
 * Room server configuration, read from PartyKit variables (`--var`,
 * `partykit.json#vars`, or `.env`). Every variable is optional; README has
 * the table. An invalid value is a readable start-up error, not a guess.
 */
export type RoomConfig = {
  maxPeers: number
  graceMs: number
  authSecret: string | undefined
  iceUrls: string[]
  turnSecret: string | undefined
  turnTtlSeconds: number
  rate: number
  burst: number
  logLevel: LogLevel
}

const intFromString = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d+$/, 'must be a whole number'),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  )

const nonEmpty = v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'))

const IceUrl = v.pipe(v.string(), v.regex(/^(stun|stuns|turn|turns):\S+$/, 'must be a stun:, stuns:, turn: or turns: URL'))

const Env = v.object({
  MESHCALL_MAX_PEERS: v.optional(intFromString(1, 64), '6'),
  MESHCALL_GRACE_MS: v.optional(intFromString(0, 600_000), '10000'),
  MESHCALL_AUTH_SECRET: v.optional(v.pipe(nonEmpty, v.minLength(16, 'must be at least 16 characters'))),
  MESHCALL_ICE_URLS: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) =>
        s
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean),
      ),
      v.array(IceUrl),
    ),
    '',
  ),
  MESHCALL_TURN_SECRET: v.optional(nonEmpty),
  MESHCALL_TURN_TTL: v.optional(intFromString(60, 7 * 24 * 3600), '3600'),
  MESHCALL_RATE: v.optional(intFromString(1, 10_000), '50'),
  MESHCALL_BURST: v.optional(intFromString(1, 100_000), '200'),
  MESHCALL_LOG_LEVEL: v.optional(v.picklist(LOG_LEVELS), 'info'),
})

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Parses the environment into a {@link RoomConfig}.
 * @throws ConfigError naming every invalid variable and why.
 */
export function parseConfig(env: Record<string, unknown>): RoomConfig {
  // PartyKit passes `--var` values through as strings; vars from
  // partykit.json may be numbers, so normalise before validating.
  const strings = Object.fromEntries(
    Object.entries(env)
      .filter(([key]) => key.startsWith('MESHCALL_'))
      .map(([key, value]) => [key, typeof value === 'number' ? String(value) : value]),
  )
  const result = v.safeParse(Env, strings)
  if (!result.success) {
    const lines = result.issues.map((issue) => `${v.getDotPath(issue) ?? '?'} ${issue.message}`)
    throw new ConfigError(`invalid meshcall configuration: ${lines.join('; ')}`)
  }
  const e = result.output
  return {
    maxPeers: e.MESHCALL_MAX_PEERS,
    graceMs: e.MESHCALL_GRACE_MS,
    authSecret: e.MESHCALL_AUTH_SECRET,
    iceUrls: e.MESHCALL_ICE_URLS,
    turnSecret: e.MESHCALL_TURN_SECRET,
    turnTtlSeconds: e.MESHCALL_TURN_TTL,
    rate: e.MESHCALL_RATE,
    burst: e.MESHCALL_BURST,
    logLevel: e.MESHCALL_LOG_LEVEL,
  }
}
