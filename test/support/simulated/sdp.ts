/**
 * The small SDP dialect of the simulation: m-lines with mid, kind,
 * direction, msid, ICE credentials, fingerprint and setup, round-tripping
 * through text, and the direction arithmetic of offer/answer (RFC 3264).
 */
/** A media section's direction, without webrtc-pc's `stopped`. */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
type SectionKind = 'audio' | 'video' | 'application'

/** One m-line of the simulated dialect. */
export type MediaSection = {
  mid: string
  kind: SectionKind
  direction: Direction
  /** Rejected (port 0). */
  rejected: boolean
  msids: { stream: string; track: string }[]
}

/** A simulated description, parsed: session-level ICE and DTLS values, and the m-lines. */
export type ParsedSdp = {
  session: string
  version: number
  ufrag: string
  pwd: string
  fingerprint: string
  setup: string
  sections: MediaSection[]
}

/** The text of a simulated description. */
export function writeSdp(sdp: ParsedSdp): string {
  const lines = [
    'v=0',
    `o=- ${sdp.session} ${sdp.version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${sdp.sections
      .filter((s) => !s.rejected)
      .map((s) => s.mid)
      .join(' ')}`,
    `a=ice-ufrag:${sdp.ufrag}`,
    `a=ice-pwd:${sdp.pwd}`,
    `a=fingerprint:${sdp.fingerprint}`,
  ]
  for (const section of sdp.sections) {
    const port = section.rejected ? 0 : 9
    lines.push(
      section.kind === 'application'
        ? `m=application ${port} UDP/DTLS/SCTP webrtc-datachannel`
        : `m=${section.kind} ${port} UDP/TLS/RTP/SAVPF ${section.kind === 'audio' ? 111 : 96}`,
      'c=IN IP4 0.0.0.0',
      `a=ice-ufrag:${sdp.ufrag}`,
      `a=ice-pwd:${sdp.pwd}`,
      `a=fingerprint:${sdp.fingerprint}`,
      `a=setup:${sdp.setup}`,
      `a=mid:${section.mid}`,
    )
    if (section.kind !== 'application') {
      lines.push(`a=${section.direction}`)
      for (const msid of section.msids) lines.push(`a=msid:${msid.stream} ${msid.track}`)
      lines.push('a=rtcp-mux')
    } else {
      lines.push('a=sctp-port:5000')
    }
  }
  return lines.join('\r\n') + '\r\n'
}

function invalid(message: string): never {
  throw new DOMException(message, 'OperationError')
}

/** Parses what {@link writeSdp} wrote; rejects other SDP as libwebrtc's parser would (OperationError). */
export function parseSdp(text: string): ParsedSdp {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0)
  const origin = lines.find((l) => l.startsWith('o='))
  if (!origin || lines[0] !== 'v=0') invalid('Failed to parse SessionDescription: not a simulated SDP')
  const [, session = '', version = '0'] = origin.slice(2).split(' ')
  const result: ParsedSdp = { session, version: Number(version), ufrag: '', pwd: '', fingerprint: '', setup: '', sections: [] }
  let current: MediaSection | null = null
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [kind, port] = line.slice(2).split(' ')
      if (kind !== 'audio' && kind !== 'video' && kind !== 'application') invalid(`unknown media kind ${kind}`)
      current = { mid: '', kind, direction: kind === 'application' ? 'sendrecv' : 'sendrecv', rejected: port === '0', msids: [] }
      result.sections.push(current)
      continue
    }
    if (!line.startsWith('a=')) continue
    const colon = line.indexOf(':')
    const name = colon < 0 ? line.slice(2) : line.slice(2, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1)
    switch (name) {
      case 'ice-ufrag':
        result.ufrag = value
        break
      case 'ice-pwd':
        result.pwd = value
        break
      case 'fingerprint':
        result.fingerprint = value
        break
      case 'setup':
        result.setup = value
        break
      case 'mid':
        if (current) current.mid = value
        break
      case 'sendrecv':
      case 'sendonly':
      case 'recvonly':
      case 'inactive':
        if (current) current.direction = name
        break
      case 'msid': {
        const [stream = '-', track = ''] = value.split(' ')
        if (current) current.msids.push({ stream, track })
        break
      }
    }
  }
  if (!result.ufrag || !result.pwd) invalid('Failed to parse SessionDescription: missing ICE credentials')
  if (!result.fingerprint) invalid('Failed to parse SessionDescription: missing fingerprint')
  for (const s of result.sections) if (!s.mid) invalid('Failed to parse SessionDescription: m-line without mid')
  return result
}

export const sends = (d: Direction | null) => d === 'sendrecv' || d === 'sendonly'
export const receives = (d: Direction | null) => d === 'sendrecv' || d === 'recvonly'
export const direction = (send: boolean, recv: boolean): Direction =>
  send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive'
export const reverse = (d: Direction): Direction => direction(receives(d), sends(d))
/** Our direction in an answer: what we want, intersected with the offer reversed. */
export const intersect = (ours: Direction, offered: Direction): Direction =>
  direction(sends(ours) && receives(offered), receives(ours) && sends(offered))

/** An applied description, with its parse kept. */
export class SimSessionDescription {
  readonly type: RTCSdpType
  readonly sdp: string
  readonly parsed: ParsedSdp
  constructor(type: RTCSdpType, sdp: string, parsed: ParsedSdp) {
    this.type = type
    this.sdp = sdp
    this.parsed = parsed
  }
  toJSON(): RTCSessionDescriptionInit {
    return { type: this.type, sdp: this.sdp }
  }
}
