/**
 * Messages on the per-pair data channel (`meshcall`, negotiated, id 0).
 * Peer to peer, so each side validates what it receives like any input.
 */
import * as v from 'valibot'

export const CHANNEL_LABEL = 'meshcall'
export const CHANNEL_ID = 0
export const MAX_CHAT_LENGTH = 2000
/**
 * Chat a receiver accepts from one peer: a token bucket of 5 messages a
 * second, 10 at once. The rest is dropped, as the room server drops
 * signaling over its own bucket.
 */
export const CHAT_RATE = 5
export const CHAT_BURST = 10

export const ChannelMessage = v.variant('type', [
  v.object({
    type: v.literal('chat'),
    id: v.pipe(v.string(), v.maxLength(64)),
    text: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_CHAT_LENGTH)),
    sentAt: v.number(),
  }),
  v.object({ type: v.literal('ping'), t: v.number() }),
  /**
   * Whether the sender wants the receiver's camera video: \`false\` (audio
   * only, that person's video turned off, or their tile hidden) makes the
   * receiver stop encoding that copy (encoding \`active: false\`).
   */
  v.object({ type: v.literal('video'), want: v.boolean() }),
  v.object({ type: v.literal('pong'), t: v.number() }),
])
export type ChannelMessage = v.InferOutput<typeof ChannelMessage>

/** Parses a data-channel frame; null when it is not a valid message. */
export function parseChannelMessage(data: unknown): ChannelMessage | null {
  if (typeof data !== 'string' || data.length > 4 * MAX_CHAT_LENGTH) return null
  try {
    const result = v.safeParse(ChannelMessage, JSON.parse(data))
    return result.success ? result.output : null
  } catch {
    return null
  }
}
