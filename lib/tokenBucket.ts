/**
 * A token bucket, kept as plain data so it can live in a connection's
 * hibernation-safe state. `rate` tokens a second refill it up to `burst`;
 * each frame takes one. The defaults (50/s, burst 200) let a full SDP and a
 * burst of trickled candidates through.
 */
export type Bucket = { tokens: number; at: number }

export function fullBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now }
}

/** Takes one token if there is one. Returns the bucket after the attempt. */
export function take(bucket: Bucket, rate: number, burst: number, now: number): { allowed: boolean; bucket: Bucket } {
  const refilled = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * rate)
  if (refilled < 1) return { allowed: false, bucket: { tokens: refilled, at: now } }
  return { allowed: true, bucket: { tokens: refilled - 1, at: now } }
}
