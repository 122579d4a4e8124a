import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import fc from 'fast-check'
import * as v from 'valibot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ClientMessage,
  CloseCode,
  displayName,
  isValidRoomName,
  MAX_FRAME_BYTES,
  parseClientMessage,
  Presence,
  SignalData,
  type ErrorCode,
  type WelcomeMessage,
} from '../../protocol/messages'
import { fixtureHash, loadJsonFixtures, saveJsonFixture } from '../support/fixtures'
import { startRoomServer, type RoomServer } from '../support/roomServer'
import { TestClient, UpgradeRefused } from '../support/wsClient'

// Hostile input against a real `partykit dev`: fast-check makes batches of
// malformed, oversized, nested, mistyped, prototype-keyed and misaddressed
// frames, odd names, room ids and resume secrets, and bursts over many
// sockets. Throughout, the server must keep answering, refuse every bad
// frame with its documented error code, show the other members nothing but
// presence, and keep relaying an honest pair's signals, none lost, none
// doubled, in order. A failing batch is shrunk and saved under
// test/fixtures/fuzz/, and every saved batch is replayed first.
// MESHCALL_FUZZ_SEED, MESHCALL_FUZZ_FRAMES and MESHCALL_FUZZ_SHRINKS change
// the seed, the number of frames and the shrinking budget.
const SEED = Number(process.env.MESHCALL_FUZZ_SEED ?? 20_260_117)
/** The property runs as many batches as it takes to send at least this many hostile frames. */
const MIN_FRAMES = Number(process.env.MESHCALL_FUZZ_FRAMES ?? 10_000)
/** Batches run while shrinking a failure, each against the live server; then the smallest so far is kept. */
const SHRINK_BUDGET = Number(process.env.MESHCALL_FUZZ_SHRINKS ?? 150)
/** How long any one reply may take before the server counts as no longer answering. */
const WAIT_MS = 10_000
const HONEST_EVERY_MS = 5
const FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'fuzz')
/**
 * Rate limits above anything a run sends, so every refusal is for what a
 * frame holds, never for its rate (`server.test.ts` proves the bucket). No
 * grace period, so a hostile socket that goes is out of the room at once,
 * and room for every socket of a burst.
 */
const SERVER_VARS = { MESHCALL_MAX_PEERS: '64', MESHCALL_GRACE_MS: '0', MESHCALL_RATE: '10000', MESHCALL_BURST: '100000' }

// What a batch is, as data: a failing batch is saved as JSON and replayed.
// Ids are symbolic (`$self`, ...), resolved against the run's live members.

/** Keys and ids that name something on `Object.prototype`. */
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'] as const
const TARGETS = ['$self', '$elsewhere', '$departed'] as const
const DEEP_SHAPES = ['arrays', 'objects', 'unclosed', 'in-ping', 'in-signal', 'in-presence'] as const
const HUGE_SHAPES = ['sdp', 'ping', 'name'] as const
const RESUME_KINDS = ['live', 'left', 'honest', 'elsewhere', 'unknown', 'prototype', 'garbage'] as const
const ENDS = ['close', 'bye', 'terminate'] as const

const FrameSpec = v.variant('t', [
  /** Random bytes, repeated, as a binary frame or as a text frame (mostly not UTF-8). */
  v.object({ t: v.literal('bytes'), opcode: v.picklist(['binary', 'text']), base64: v.string(), repeat: v.number() }),
  /** A text frame as it stands: random text, random JSON, or JSON text with `__proto__`/`constructor` keys. */
  v.object({ t: v.literal('text'), source: v.picklist(['random', 'json', 'prototype']), text: v.string() }),
  /** A valid message cut before its end. */
  v.object({ t: v.literal('truncated'), message: v.unknown(), cut: v.number() }),
  v.object({ t: v.literal('deep'), shape: v.picklist(DEEP_SHAPES), depth: v.number() }),
  /** A message padded with `char` to about `bytes` UTF-8 bytes. */
  v.object({ t: v.literal('huge'), shape: v.picklist(HUGE_SHAPES), bytes: v.number(), char: v.string() }),
  /** A valid message with fields replaced by values of another JSON type. */
  v.object({ t: v.literal('wrong'), message: v.unknown(), fields: v.array(v.object({ path: v.array(v.string()), value: v.unknown() })) }),
  /** A well-formed signal to oneself, a peer of another room, a peer gone, or an id no member has. */
  v.object({ t: v.literal('signal'), to: v.string(), data: v.unknown() }),
  /** A valid ping or presence, so that good frames are mixed in with the bad. */
  v.object({ t: v.literal('valid'), message: v.unknown() }),
])
type FrameSpec = v.InferOutput<typeof FrameSpec>

const Act = v.variant('t', [
  /** One hostile socket joins the room with `name`, sends `frames`, and goes. */
  v.object({ t: v.literal('frames'), name: v.string(), frames: v.array(FrameSpec), end: v.picklist(ENDS) }),
  /** Many hostile sockets join, then all send at once, interleaved. */
  v.object({ t: v.literal('burst'), sockets: v.array(v.array(FrameSpec)) }),
  /** A join of any room id, with any name. */
  v.object({ t: v.literal('join'), room: v.string(), name: v.string() }),
  /** A join that presents `resume=` of a live, departed, other, or forged identity. */
  v.object({ t: v.literal('resume'), of: v.picklist(RESUME_KINDS), id: v.string(), secret: v.string() }),
])
type Act = v.InferOutput<typeof Act>
const Batch = v.array(Act)
type Batch = v.InferOutput<typeof Batch>

const Fixture = v.object({
  name: v.string(),
  about: v.string(),
  seed: v.optional(v.number()),
  failure: v.optional(v.string()),
  batch: Batch,
})
type Fixture = v.InferOutput<typeof Fixture>

// Rendering a frame, and what the server must answer to it.

type Ctx = { selfId: string; elsewhereId: string; departedId: string; members: ReadonlySet<string> }
type Rendered = { data: Buffer | string; binary: boolean }
/** The server's answer to one frame: an error code, `pong`, or (a valid presence) nothing to the sender. */
type Outcome = ErrorCode | 'pong' | 'presence'

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8')
/** What a string becomes on the wire: `ws` encodes it as UTF-8, so lone surrogates arrive as U+FFFD. */
const onTheWire = (text: string) => Buffer.from(text, 'utf8').toString('utf8')

function render(frame: FrameSpec, ctx: Ctx): Rendered {
  const text = (data: string): Rendered => ({ data, binary: false })
  switch (frame.t) {
    case 'bytes': {
      const unit = Buffer.from(frame.base64, 'base64')
      return { data: unit.length === 0 ? unit : Buffer.alloc(unit.length * frame.repeat, unit), binary: frame.opcode === 'binary' }
    }
    case 'text':
      return text(frame.text)
    case 'truncated': {
      const whole = JSON.stringify(frame.message)
      return text(whole.slice(0, frame.cut % whole.length))
    }
    case 'deep':
      return text(deepText(frame.shape, frame.depth))
    case 'huge':
      return text(hugeText(frame.shape, frame.bytes, frame.char))
    case 'wrong':
      return text(JSON.stringify(frame.fields.reduce((message, { path, value }) => withField(message, path, value), frame.message)))
    case 'signal':
      return text(JSON.stringify({ type: 'signal', to: target(frame.to, ctx), data: frame.data }))
    case 'valid':
      return text(JSON.stringify(frame.message))
  }
}

function target(to: string, ctx: Ctx): string {
  if (to === '$self') return ctx.selfId
  if (to === '$elsewhere') return ctx.elsewhereId
  if (to === '$departed') return ctx.departedId
  return to
}

function deepText(shape: (typeof DEEP_SHAPES)[number], depth: number): string {
  const arrays = '['.repeat(depth) + ']'.repeat(depth)
  switch (shape) {
    case 'arrays':
      return arrays
    case 'objects':
      return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
    case 'unclosed':
      return '['.repeat(depth)
    case 'in-ping':
      return `{"type":"ping","x":${arrays}}`
    case 'in-signal':
      return `{"type":"signal","to":"nobody","data":${arrays}}`
    case 'in-presence':
      return `{"type":"presence","state":{"name":${arrays},"mic":true,"camera":false,"screen":false}}`
  }
}

function hugeText(shape: (typeof HUGE_SHAPES)[number], bytes: number, char: string): string {
  const frame = (pad: string) => {
    switch (shape) {
      case 'sdp':
        return JSON.stringify({
          type: 'signal',
          to: 'nobody',
          data: { kind: 'description', description: { type: 'offer', sdp: pad }, session: 1 },
        })
      case 'ping':
        return JSON.stringify({ type: 'ping', pad })
      case 'name':
        return JSON.stringify({ type: 'presence', state: { name: pad, mic: false, camera: false, screen: false } })
    }
  }
  const perChar = Math.max(1, utf8Bytes(JSON.stringify(char)) - 2)
  return frame(char.repeat(Math.max(0, Math.floor((bytes - utf8Bytes(frame(''))) / perChar))))
}

/** `value` with the field at `path` set to `field`; unchanged when a parent on the path is no object. */
function withField(value: unknown, path: readonly string[], field: unknown): unknown {
  if (path.length === 0) return field
  if (!isRecord(value)) return value
  const [key, ...rest] = path
  return { ...value, [key]: withField(value[key], rest, field) }
}

/**
 * What the server must answer, by the protocol module both sides share:
 * its parser gives the error code of a bad frame, and a good one is
 * answered as `docs/protocol.md` says. The generators never make a frame
 * that would legitimately reach another member (a signal to one, a `bye`).
 */
function outcomeOf(rendered: Rendered, ctx: Ctx): Outcome {
  // workerd decodes a text frame that is not UTF-8 with replacement characters, as TextDecoder does.
  const { data, binary } = rendered
  const parsed = parseClientMessage(typeof data === 'string' ? onTheWire(data) : binary ? data : new TextDecoder().decode(data))
  if (!parsed.ok) return parsed.code
  const message = parsed.message
  switch (message.type) {
    case 'ping':
      return 'pong'
    case 'presence':
      return 'presence'
    case 'signal':
      if (message.to !== ctx.selfId && ctx.members.has(message.to)) throw new Error(`generator bug: a signal to member ${message.to}`)
      return 'unknown-peer'
    case 'bye':
      throw new Error('generator bug: a bye among the hostile frames')
  }
}

// Wrong field types, derived from the ClientMessage schema: every field a
// valid message has or may have, each with the JSON types its schema takes.

const JSON_KINDS = ['string', 'number', 'boolean', 'null', 'array', 'object'] as const
type JsonKind = (typeof JSON_KINDS)[number]
type Field = { path: string[]; accepts: ReadonlySet<JsonKind> }
type SchemaNode = { type: string; entries?: unknown; options?: unknown; wrapped?: unknown; key?: unknown; literal?: unknown }

function isSchemaNode(x: unknown): x is SchemaNode {
  return isRecord(x) && x.kind === 'schema' && typeof x.type === 'string'
}

function jsonKindOf(x: unknown): JsonKind {
  if (x === null) return 'null'
  if (Array.isArray(x)) return 'array'
  const kind = typeof x
  if (kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'object') return kind
  throw new Error(`not a JSON value: ${String(x)}`)
}

function acceptedKinds(schema: unknown): Set<JsonKind> {
  const kinds = new Set<JsonKind>()
  let node = isSchemaNode(schema) ? schema : undefined
  while (node && (node.type === 'optional' || node.type === 'nullable' || node.type === 'nullish')) {
    if (node.type !== 'optional') kinds.add('null')
    node = isSchemaNode(node.wrapped) ? node.wrapped : undefined
  }
  switch (node?.type) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'array':
    case 'object':
      kinds.add(node.type)
      break
    case 'variant':
    case 'record':
      kinds.add('object')
      break
    case 'literal':
      kinds.add(jsonKindOf(node.literal))
      break
    case 'picklist':
    case 'union':
      for (const option of Array.isArray(node.options) ? node.options : []) {
        for (const kind of isSchemaNode(option) ? acceptedKinds(option) : [jsonKindOf(option)]) kinds.add(kind)
      }
      break
    default:
      throw new Error(`no wrong-type values known for a ${node?.type ?? 'missing'} schema`)
  }
  return kinds
}

/** Every field `value` (valid for `schema`) has or may have, top-level and nested. */
function fieldsOf(schema: unknown, value: unknown, path: string[] = []): Field[] {
  let node = isSchemaNode(schema) ? schema : undefined
  while (node && (node.type === 'optional' || node.type === 'nullable' || node.type === 'nullish')) {
    node = isSchemaNode(node.wrapped) ? node.wrapped : undefined
  }
  if (!node || !isRecord(value)) return []
  if (node.type === 'variant' && Array.isArray(node.options) && typeof node.key === 'string') {
    const key = node.key
    const option = node.options.find(
      (o) => isSchemaNode(o) && isRecord(o.entries) && isSchemaNode(o.entries[key]) && o.entries[key].literal === value[key],
    )
    return fieldsOf(option, value, path)
  }
  if (node.type !== 'object' || !isRecord(node.entries)) return []
  return Object.entries(node.entries).flatMap(([key, entry]) => [
    { path: [...path, key], accepts: acceptedKinds(entry) },
    ...(key in value ? fieldsOf(entry, value[key], [...path, key]) : []),
  ])
}

const VALUES_OF: Record<JsonKind, fc.Arbitrary<unknown>> = {
  string: fc.string({ maxLength: 16 }),
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
}
const wrongValueFor = (field: Field) => fc.oneof(...JSON_KINDS.filter((kind) => !field.accepts.has(kind)).map((kind) => VALUES_OF[kind]))

// The generators.

const SPECIAL_CHARS = [
  ...['\u00a0', '\u00ad', '\u200b', '\u200d', '\u202e', '\u2028', '\u2029', '\ufeff', '\ufffd', '\u3000'],
  ...['😀', '👩‍👩‍👧', 'e\u0301', '%', '%00', '&', '=', '#', '?', '/', '.', '..', '\\', '"', "'", '<', ' ', '\t', '\n'],
]
const hostileChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  // C0 and C1 control characters and DEL.
  {
    weight: 2,
    arbitrary: fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f })).map((c) => String.fromCharCode(c)),
  },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_CHARS) },
  // Lone surrogates, which no UTF-8 encoder can carry.
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
)
const hostileText = (maxLength: number, minLength = 0) => fc.string({ unit: hostileChar, minLength, maxLength })
const peerIdArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)
const prototypeNameArb = fc.constantFrom(...PROTOTYPE_NAMES)

const count = fc.nat({ max: 1_000_000 })
const negotiation = { session: count, ack: count, seq: fc.integer({ min: 1, max: 1_000_000 }) }
const nullableText = fc.option(fc.string({ maxLength: 32 }), { nil: null })
const signalDataArbs: { [K in SignalData['kind']]: fc.Arbitrary<unknown> } = {
  description: fc.record(
    {
      kind: fc.constant('description'),
      description: fc.record(
        { type: fc.constantFrom('offer', 'answer', 'pranswer', 'rollback'), sdp: fc.string({ maxLength: 300 }) },
        { requiredKeys: ['type'] },
      ),
      screenMid: fc.string({ maxLength: 64 }),
      offer: count,
      ...negotiation,
    },
    { requiredKeys: ['kind', 'description', 'session'] },
  ),
  candidate: fc.record(
    {
      kind: fc.constant('candidate'),
      candidate: fc.record(
        {
          candidate: fc.string({ maxLength: 120 }),
          sdpMid: nullableText,
          sdpMLineIndex: fc.option(fc.nat({ max: 8 }), { nil: null }),
          usernameFragment: nullableText,
        },
        { requiredKeys: ['candidate'] },
      ),
      ...negotiation,
    },
    { requiredKeys: ['kind', 'candidate', 'session'] },
  ),
  'end-of-candidates': fc.record(
    { kind: fc.constant('end-of-candidates'), usernameFragment: nullableText, ...negotiation },
    { requiredKeys: ['kind', 'session'] },
  ),
  restart: fc.record(
    { kind: fc.constant('restart'), ufrag: fc.string({ maxLength: 256 }), ...negotiation },
    { requiredKeys: ['kind', 'ufrag', 'session'] },
  ),
}
const signalDataArb = fc.oneof(...Object.values(signalDataArbs)).map((data) => v.parse(SignalData, data))
const presenceArb = fc
  .record({ name: hostileText(64, 1), mic: fc.boolean(), camera: fc.boolean(), screen: fc.boolean() })
  .filter((state) => v.is(Presence, state))
const clientMessageArbs: { [K in ClientMessage['type']]: fc.Arbitrary<unknown> } = {
  // To an id no member has: a valid signal must not reach anyone.
  signal: fc.record({ type: fc.constant('signal'), to: peerIdArb, data: signalDataArb }),
  presence: fc.record({ type: fc.constant('presence'), state: presenceArb }),
  bye: fc.constant({ type: 'bye' }),
  ping: fc.constant({ type: 'ping' }),
}
const clientMessageArb = fc.oneof(...Object.values(clientMessageArbs)).map((message) => v.parse(ClientMessage, message))
const notByeArb = clientMessageArb.filter((message) => message.type !== 'bye')

const bytesArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ bytes: fc.uint8Array({ maxLength: 512 }), repeat: fc.constant(1) }) },
  // From half the frame limit to four times it.
  {
    weight: 1,
    arbitrary: fc.record({ bytes: fc.uint8Array({ minLength: 32, maxLength: 64 }), repeat: fc.integer({ min: 1024, max: 4096 }) }),
  },
)
const isBye = (text: string) => {
  const parsed = parseClientMessage(onTheWire(text))
  return parsed.ok && parsed.message.type === 'bye'
}
const textArb = fc
  .oneof(
    hostileText(200).map((text) => ({ source: 'random' as const, text })),
    fc.json({ maxDepth: 3 }).map((text) => ({ source: 'json' as const, text })),
    fc
      .string({ unit: fc.constantFrom(...'{}[]":,0123456789.eE+-\\ tfnrulas'), maxLength: 60 })
      .map((text) => ({ source: 'json' as const, text })),
  )
  .filter(({ text }) => !isBye(text))
const protoKeyArb = fc.constantFrom('__proto__', 'constructor', 'prototype')
const injectedArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom({ type: 'bye' }, { polluted: true }, { prototype: { polluted: true } }, { type: 'signal', to: 'x' }),
)
const prototypeTextArb = fc.oneof(
  // The whole message under the key: it has no own `type`.
  fc
    .record({ key: protoKeyArb, message: clientMessageArb })
    .map(({ key, message }) => `{${JSON.stringify(key)}:${JSON.stringify(message)}}`),
  // The key added to one of its objects, as JSON text, so that it is a real own key.
  fc
    .record({ message: notByeArb, key: protoKeyArb, value: injectedArb, at: fc.nat() })
    .map(({ message, key, value, at }) => injectKey(message, at, key, value)),
  // A prototype name where a type or a kind belongs.
  fc
    .record({ message: clientMessageArb, name: prototypeNameArb })
    .map(({ message, name }) => JSON.stringify(withField(message, message.type === 'signal' ? ['data', 'kind'] : ['type'], name))),
)

/** `message` as JSON text, with `"key": value` first in its `at`-th object (counted depth first). */
function injectKey(message: unknown, at: number, key: string, value: unknown): string {
  const objects = (x: unknown): number =>
    Array.isArray(x)
      ? x.reduce((n: number, item) => n + objects(item), 0)
      : isRecord(x)
        ? 1 + Object.values(x).reduce((n: number, item) => n + objects(item), 0)
        : 0
  const chosen = at % objects(message)
  let seen = 0
  const write = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(write).join(',')}]`
    if (!isRecord(x)) return JSON.stringify(x)
    const here = seen++ === chosen ? [`${JSON.stringify(key)}:${JSON.stringify(value)}`] : []
    return `{${[...here, ...Object.entries(x).map(([k, item]) => `${JSON.stringify(k)}:${write(item)}`)].join(',')}}`
  }
  return write(message)
}

const wrongArb = clientMessageArb.chain((message) => {
  const fields = fieldsOf(ClientMessage, message)
  const replacement = fc.constantFrom(...fields).chain((field) => fc.record({ path: fc.constant(field.path), value: wrongValueFor(field) }))
  return fc.array(replacement, { minLength: 1, maxLength: 2 }).map((replaced): FrameSpec => ({ t: 'wrong', message, fields: replaced }))
})

const frameArb: fc.Arbitrary<FrameSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({ opcode: fc.constantFrom('binary', 'text'), bytes: bytesArb })
      .map(({ opcode, bytes: { bytes, repeat } }): FrameSpec => ({
        t: 'bytes',
        opcode,
        base64: Buffer.from(bytes).toString('base64'),
        repeat,
      })),
  },
  { weight: 3, arbitrary: textArb.map(({ source, text }): FrameSpec => ({ t: 'text', source, text })) },
  { weight: 2, arbitrary: prototypeTextArb.map((text): FrameSpec => ({ t: 'text', source: 'prototype', text })) },
  { weight: 3, arbitrary: fc.record({ message: clientMessageArb, cut: fc.nat() }).map((x): FrameSpec => ({ t: 'truncated', ...x })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ shape: fc.constantFrom(...DEEP_SHAPES), depth: fc.oneof(fc.constant(10_000), fc.integer({ min: 1, max: 40_000 })) })
      .map((x): FrameSpec => ({ t: 'deep', ...x })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        shape: fc.constantFrom(...HUGE_SHAPES),
        // Around the limit to the byte, or well past it.
        bytes: fc.oneof(
          fc.integer({ min: MAX_FRAME_BYTES - 16, max: MAX_FRAME_BYTES + 16 }),
          fc.integer({ min: MAX_FRAME_BYTES + 1, max: 3 * MAX_FRAME_BYTES }),
        ),
        char: fc.constantFrom('x', 'é', '€', '😀', '\u0000', '"', '\u2028'),
      })
      .map((x): FrameSpec => ({ t: 'huge', ...x })),
  },
  { weight: 4, arbitrary: wrongArb },
  {
    weight: 3,
    arbitrary: fc
      .record({
        to: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...TARGETS) },
          { weight: 2, arbitrary: peerIdArb },
          { weight: 1, arbitrary: prototypeNameArb },
        ),
        data: signalDataArb,
      })
      .map((x): FrameSpec => ({ t: 'signal', ...x })),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(clientMessageArbs.ping, clientMessageArbs.presence).map((message): FrameSpec => ({ t: 'valid', message })),
  },
)

const actArb: fc.Arbitrary<Act> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        name: hostileText(80),
        frames: fc.array(frameArb, { minLength: 1, maxLength: 200, size: 'medium' }),
        end: fc.constantFrom(...ENDS),
      })
      .map((x): Act => ({ t: 'frames', ...x })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.array(frameArb, { minLength: 50, maxLength: 100, size: 'medium' }), { minLength: 10, maxLength: 20, size: 'medium' })
      .map((sockets): Act => ({ t: 'burst', sockets })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        room: fc.oneof(hostileText(80), peerIdArb, fc.constantFrom('', '.', '..', 'x'.repeat(65), 'a/b', 'a%2Fb', '%00')),
        name: hostileText(80),
      })
      .map((x): Act => ({ t: 'join', ...x })),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      ...RESUME_KINDS.map((of) =>
        fc
          .record({ id: of === 'prototype' ? prototypeNameArb : peerIdArb, secret: hostileText(60) })
          .map((x): Act => ({ t: 'resume', of, ...x })),
      ),
    ),
  },
)
const batchArb = fc.array(actArb, { minLength: 1, maxLength: 4 })

const framesOf = (batch: Batch) =>
  batch.reduce((n, act) => n + (act.t === 'frames' ? act.frames.length : act.t === 'burst' ? act.sockets.flat().length : 0), 0)

// The live room: an honest pair and a bystander in it, a bystander in another room.

type Welcome = WelcomeMessage
type Member = { client: TestClient; welcome: Welcome }
type Observer = {
  label: string
  member: Member
  /** For the honest pair: the other one, whose numbered signals this one receives. */
  partner?: Member & { sent: number }
  cursor: number
  joined: Set<string>
  left: Set<string>
  seqs: number[]
  problems: string[]
}
type Identity = { shownName: string; leave: 'bye' | 'timeout' }
type Hostile = { client: TestClient; id: string; secret: string; expected: { outcome: Outcome | 'barrier'; frame?: FrameSpec }[] }
type World = {
  server: RoomServer
  room: string
  a: Member & { sent: number }
  b: Member & { sent: number }
  bystander: Member
  elsewhere: Member
  observers: Observer[]
  /** Every hostile identity that ever joined the room. */
  hostiles: Map<string, Identity>
  /** Hostile identities joined in the current batch. */
  batchIds: Set<string>
  /** Hostile identities of the current batch still in the room. */
  live: Set<string>
  departedId: string
  logMark: number
  stats: {
    hostileFrames: number
    batches: number
    batchMs: number
    burstFrames: number
    burstMs: number
    frames: Map<string, number>
    acts: Map<string, number>
  }
}

let world: World
let honestTimer: ReturnType<typeof setInterval> | undefined
const bump = (map: Map<string, number>, key: string, by = 1) => map.set(key, (map.get(key) ?? 0) + by)

async function joinMember(server: RoomServer, room: string, name: string): Promise<Member> {
  return TestClient.join(server.wsUrl(room, { name }))
}

beforeAll(async () => {
  const server = await startRoomServer(SERVER_VARS)
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const room = `fuzz-${tag}`
  const bystander = await joinMember(server, room, 'Bystander')
  const a = { ...(await joinMember(server, room, 'Ada')), sent: 0 }
  const b = { ...(await joinMember(server, room, 'Bob')), sent: 0 }
  const elsewhere = await joinMember(server, `fuzz-elsewhere-${tag}`, 'Elsewhere')
  await bystander.client.next('peer-joined', (m) => m.peer.id === b.welcome.id)
  await a.client.next('peer-joined', (m) => m.peer.id === b.welcome.id)
  const observer = (label: string, member: Member, partner?: Member & { sent: number }): Observer => ({
    label,
    member,
    partner,
    cursor: member.client.received.length,
    joined: new Set(),
    left: new Set(),
    seqs: [],
    problems: [],
  })
  world = {
    server,
    room,
    a,
    b,
    bystander,
    elsewhere,
    observers: [observer('bystander', bystander), observer('Ada', a, b), observer('Bob', b, a)],
    hostiles: new Map(),
    batchIds: new Set(),
    live: new Set(),
    departedId: 'nobody-yet',
    logMark: server.output().length,
    stats: { hostileFrames: 0, batches: 0, batchMs: 0, burstFrames: 0, burstMs: 0, frames: new Map(), acts: new Map() },
  }
  // The honest pair: each sends the other a numbered candidate every few ms, the whole time.
  honestTimer = setInterval(() => {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      from.sent++
      from.client.send({
        type: 'signal',
        to: to.welcome.id,
        data: {
          kind: 'candidate',
          candidate: { candidate: `candidate:${from.sent} 1 udp 1 127.0.0.1 9 typ host`, sdpMid: '0' },
          session: 1,
          seq: from.sent,
        },
      })
    }
  }, HONEST_EVERY_MS)
}, 60_000)

afterAll(async () => {
  clearInterval(honestTimer)
  if (!world) return
  // Frames sent over the wall time of the batches that sent them (joins, answers and checks included), and of the bursts alone.
  const { hostileFrames, batches, batchMs, burstFrames, burstMs } = world.stats
  const rate = (frames: number, ms: number) => (ms > 0 ? Math.round((frames * 1000) / ms) : 0)
  console.log(
    `fuzz: ${hostileFrames} hostile frames in ${batches} batches, ${(batchMs / 1000).toFixed(1)} s: ${rate(hostileFrames, batchMs)} frames/s; ` +
      `in bursts ${burstFrames} frames in ${(burstMs / 1000).toFixed(1)} s: ${rate(burstFrames, burstMs)} frames/s; ` +
      `meanwhile ${world.a.sent + world.b.sent} honest signals`,
  )
  console.log(
    `fuzz: frames sent by kind ${JSON.stringify(Object.fromEntries(world.stats.frames))}, acts ${JSON.stringify(Object.fromEntries(world.stats.acts))}`,
  )
  for (const member of [world.a, world.b, world.bystander, world.elsewhere]) member.client.terminate()
  await world.server.stop()
})

// Running a batch.

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g

function fail(message: string): never {
  throw new Error(message)
}
const describeFrame = (frame: FrameSpec | undefined) => (frame ? JSON.stringify(frame).slice(0, 300) : 'the barrier ping')
const describeReplies = (client: TestClient) =>
  client.received
    .slice(-8)
    .map((m) => (m.type === 'error' ? `error ${m.code}` : m.type))
    .join(', ')

/** Joins the fuzzed room as a hostile socket; `welcome` or a clear failure, never a hang. */
async function joinHostile(query: Record<string, string>, opened: TestClient[]): Promise<Hostile & { welcome: Welcome }> {
  const url = world.server.wsUrl(world.room, query)
  const client = await TestClient.connect(url).catch((error: unknown) => fail(`joining with ${JSON.stringify(query)}: ${String(error)}`))
  opened.push(client)
  const welcome = await client.waitFor(
    () => client.all('welcome')[0] ?? (client.closed ? null : undefined),
    WAIT_MS,
    `welcome for ${JSON.stringify(query)}`,
  )
  if (welcome === null) {
    fail(
      `joining with ${JSON.stringify(query)}: closed with ${client.closed?.code} "${client.closed?.reason}" before any welcome; got ${describeReplies(client)}`,
    )
  }
  if (!welcome.resumed) {
    world.hostiles.set(welcome.id, { shownName: displayName(new URL(url).searchParams.get('name')).trim(), leave: 'timeout' })
    world.batchIds.add(welcome.id)
  }
  world.live.add(welcome.id)
  return { client, id: welcome.id, secret: welcome.secret, expected: [], welcome }
}

function ctxOf(hostile: Hostile): Ctx {
  const members = new Set([world.a.welcome.id, world.b.welcome.id, world.bystander.welcome.id, ...world.live])
  return { selfId: hostile.id, elsewhereId: world.elsewhere.welcome.id, departedId: world.departedId, members }
}

function sendFrame(hostile: Hostile, frame: FrameSpec): void {
  const ctx = ctxOf(hostile)
  const rendered = render(frame, ctx)
  hostile.expected.push({ outcome: outcomeOf(rendered, ctx), frame })
  hostile.client.socket.send(rendered.data, { binary: rendered.binary })
  world.stats.hostileFrames++
  bump(world.stats.frames, frame.t)
}

/**
 * Sends a ping after the frames and waits for its pong: the server answers
 * a socket's frames in order, so by then every frame has had its answer.
 * Then each answer must be the one its frame calls for, and the socket
 * still open.
 */
async function settle(hostile: Hostile): Promise<void> {
  hostile.client.send({ type: 'ping' })
  hostile.expected.push({ outcome: 'barrier' })
  const pongs = hostile.expected.filter((e) => e.outcome === 'pong' || e.outcome === 'barrier').length
  await hostile.client.waitFor(
    () => (hostile.client.all('pong').length >= pongs || hostile.client.closed ? true : undefined),
    WAIT_MS,
    `the answers to ${hostile.expected.length - 1} frames (server no longer answering?)`,
  )
  const signal = hostile.client.all('signal')[0]
  if (signal) fail(`hostile ${hostile.id} received a signal from ${signal.from}: ${JSON.stringify(signal.data).slice(0, 200)}`)
  if (hostile.client.invalid.length > 0) fail(`hostile ${hostile.id} received frames outside the protocol: ${hostile.client.invalid[0]}`)
  const replies = hostile.client.received.flatMap((m) => (m.type === 'error' ? [m.code] : m.type === 'pong' ? ['pong'] : []))
  const expected = hostile.expected
    .filter((e) => e.outcome !== 'presence')
    .map((e) => ({ ...e, outcome: e.outcome === 'barrier' ? 'pong' : e.outcome }))
  const wrong = expected.findIndex((e, i) => replies[i] !== e.outcome)
  if (wrong !== -1 || replies.length !== expected.length) {
    const at = wrong === -1 ? expected.length : wrong
    const around = (list: string[]) => list.slice(Math.max(0, at - 2), at + 3).join(', ')
    fail(
      `hostile ${hostile.id}: answer #${at + 1} is ${replies[at] ?? 'missing'}, expected ${expected[at]?.outcome ?? 'nothing more'} ` +
        `for ${describeFrame(expected[at]?.frame)} (answers from #${Math.max(1, at - 1)}: ${around(replies)}; expected ${around(expected.map((e) => e.outcome))})` +
        `${replies.length < expected.length ? `; ${expected.length - replies.length} of ${expected.length} answers missing` : ''}` +
        `${hostile.client.closed ? `; socket closed with ${hostile.client.closed.code}` : ''}`,
    )
  }
  const empty = hostile.client.all('error').find((e) => e.message.length === 0)
  if (empty) fail(`hostile ${hostile.id}: an ${empty.code} error without a message`)
  if (hostile.client.closed)
    fail(`hostile ${hostile.id}: socket closed with ${hostile.client.closed.code} "${hostile.client.closed.reason}"`)
}

async function leave(hostile: Hostile, end: (typeof ENDS)[number]): Promise<void> {
  world.live.delete(hostile.id)
  // After a bye or a close handshake the server has removed the member; after
  // a dropped connection it notices only later, so that id is not yet gone.
  if (end !== 'terminate') world.departedId = hostile.id
  switch (end) {
    case 'bye': {
      const identity = world.hostiles.get(hostile.id)
      if (identity) identity.leave = 'bye'
      hostile.client.send({ type: 'bye' })
      const closed = await hostile.client.closedWith(WAIT_MS)
      if (closed.code !== CloseCode.left) fail(`hostile ${hostile.id}: bye closed the socket with ${closed.code}, not ${CloseCode.left}`)
      return
    }
    case 'close':
      return hostile.client.close()
    case 'terminate':
      return hostile.client.terminate()
  }
}

/** A hostile joins with `resume=` and must get a fresh identity, the member whose id it named untouched. */
async function forgedResume(resume: string, opened: TestClient[], untouched?: Member): Promise<void> {
  const hostile = await joinHostile({ resume }, opened)
  if (hostile.welcome.resumed || hostile.id === resume.slice(0, resume.indexOf('.'))) {
    fail(`resume=${JSON.stringify(resume)} took over identity ${hostile.id}`)
  }
  await settle(hostile)
  if (untouched?.client.closed) fail(`resume=${JSON.stringify(resume)} closed the member it named (${untouched.client.closed.code})`)
  await leave(hostile, 'close')
}

async function runAct(act: Act, opened: TestClient[]): Promise<void> {
  bump(world.stats.acts, act.t === 'resume' ? `resume:${act.of}` : act.t)
  switch (act.t) {
    case 'frames': {
      const hostile = await joinHostile({ name: act.name }, opened)
      for (const frame of act.frames) sendFrame(hostile, frame)
      await settle(hostile)
      return leave(hostile, act.end)
    }
    case 'burst': {
      const hostiles = await Promise.all(act.sockets.map((_, i) => joinHostile({ name: `burst ${i}` }, opened)))
      const started = performance.now()
      const longest = Math.max(...act.sockets.map((frames) => frames.length))
      for (let i = 0; i < longest; i++) {
        act.sockets.forEach((frames, k) => i < frames.length && sendFrame(hostiles[k], frames[i]))
      }
      await Promise.all(hostiles.map(settle))
      world.stats.burstMs += performance.now() - started
      world.stats.burstFrames += act.sockets.flat().length
      await Promise.all(hostiles.map((hostile) => leave(hostile, 'close')))
      return
    }
    case 'join':
      return joinAnyRoom(act.room, act.name, opened)
    case 'resume':
      return resumeAct(act.of, act.id, act.secret, opened)
  }
}

async function joinAnyRoom(raw: string, name: string, opened: TestClient[]): Promise<void> {
  const room = onTheWire(raw)
  const url = `ws://${world.server.host}/parties/main/${encodeURIComponent(room)}?${new URLSearchParams({ name })}`
  const result = await TestClient.connect(url).catch((error: unknown) => error)
  if (result instanceof TestClient) {
    opened.push(result)
    if (!isValidRoomName(room)) fail(`room id ${JSON.stringify(room)} was let in`)
    await result.waitFor(
      () => result.all('welcome')[0] ?? (result.closed ? null : undefined),
      WAIT_MS,
      `welcome in room ${JSON.stringify(room)}`,
    )
    if (result.all('welcome').length !== 1) fail(`room ${JSON.stringify(room)}: no welcome; closed with ${result.closed?.code}`)
    return result.close()
  }
  if (isValidRoomName(room)) fail(`room id ${JSON.stringify(room)} refused: ${String(result)}`)
  // An empty id or a dot segment leaves a URL that names no room at all: PartyKit's 404, before the room server.
  const status = room === '' || room === '.' || room === '..' ? 404 : 400
  if (!(result instanceof UpgradeRefused) || result.status !== status) {
    fail(`room id ${JSON.stringify(room)}: expected HTTP ${status} before the upgrade, got ${String(result)}`)
  }
}

async function resumeAct(of: (typeof RESUME_KINDS)[number], id: string, secret: string, opened: TestClient[]): Promise<void> {
  switch (of) {
    case 'live': {
      // The secret of a live member, replayed: the newer socket takes the identity, the older is closed with 4010.
      const first = await joinHostile({ name: 'first' }, opened)
      const second = await joinHostile({ resume: `${first.id}.${first.secret}` }, opened)
      if (!second.welcome.resumed || second.id !== first.id)
        fail(`resume of live ${first.id} gave ${second.id} (resumed ${second.welcome.resumed})`)
      const closed = await first.client.closedWith(WAIT_MS)
      if (closed.code !== CloseCode.replaced)
        fail(`the replaced socket of ${first.id} closed with ${closed.code}, not ${CloseCode.replaced}`)
      await settle(second)
      return leave(second, 'close')
    }
    case 'left': {
      // The secret of a member that said bye, replayed: nothing to resume.
      const gone = await joinHostile({ name: 'gone' }, opened)
      await leave(gone, 'bye')
      return forgedResume(`${gone.id}.${gone.secret}`, opened)
    }
    case 'honest':
      return forgedResume(`${world.a.welcome.id}.${secret}`, opened, world.a)
    case 'elsewhere':
      // A real secret, but of another room's member.
      return forgedResume(`${world.elsewhere.welcome.id}.${world.elsewhere.welcome.secret}`, opened, world.elsewhere)
    case 'unknown':
    case 'prototype':
      return forgedResume(`${id}.${secret}`, opened)
    case 'garbage':
      return forgedResume(secret, opened)
  }
}

/** Reads what an observer received since last time; anything not documented presence is a problem. */
function absorb(observer: Observer): void {
  const { client } = observer.member
  const problem = (text: string) => observer.problems.push(`${observer.label}: ${text}`)
  for (; observer.cursor < client.received.length; observer.cursor++) {
    const message = client.received[observer.cursor]
    switch (message.type) {
      case 'signal': {
        if (message.from !== observer.partner?.welcome.id) {
          problem(`a signal from ${message.from}: ${JSON.stringify(message.data).slice(0, 200)}`)
          break
        }
        const seq = message.data.seq ?? 0
        const last = observer.seqs.at(-1) ?? 0
        if (seq !== last + 1) problem(`honest signal #${seq} after #${last}: lost, doubled or reordered`)
        observer.seqs.push(seq)
        break
      }
      case 'peer-joined': {
        const { id, presence } = message.peer
        const identity = world.hostiles.get(id)
        if (!identity || observer.joined.has(id)) problem(`peer-joined for ${id}, ${identity ? 'twice' : 'which no hostile socket was'}`)
        else if (presence.name !== identity.shownName)
          problem(`${id} shown as ${JSON.stringify(presence.name)}, not ${JSON.stringify(identity.shownName)}`)
        observer.joined.add(id)
        break
      }
      case 'peer-left': {
        const identity = world.hostiles.get(message.id)
        if (!identity || !observer.joined.has(message.id) || observer.left.has(message.id))
          problem(`peer-left for ${message.id}, never joined or left already`)
        else if (message.reason !== identity.leave)
          problem(`peer-left for ${message.id} with reason ${message.reason}, not ${identity.leave}`)
        observer.left.add(message.id)
        break
      }
      case 'presence':
        if (!observer.joined.has(message.from) || observer.left.has(message.from)) problem(`presence from ${message.from}, not a member`)
        break
      default:
        problem(`${message.type === 'error' ? `error ${message.code}` : message.type}: ${JSON.stringify(message).slice(0, 200)}`)
    }
  }
  if (client.invalid.length > 0) problem(`frames outside the protocol: ${client.invalid[0]}`)
  if (client.closed) problem(`socket closed with ${client.closed.code}`)
}

/** Whether the `partykit dev` process started for this file still runs (pgrep exits 1 when nothing matches). */
function partykitAlive(port: number): boolean {
  try {
    execFileSync('pgrep', ['-f', `partykit dev --port ${port} `], { stdio: 'ignore' })
    return true
  } catch (error) {
    if (isRecord(error) && error.status === 1) return false
    throw error
  }
}

/** After the acts: every hostile has gone, the others saw only presence, the pair still talks, the server answers. */
async function checkWorld(): Promise<void> {
  for (const observer of world.observers) {
    await observer.member.client.waitFor(
      () => {
        absorb(observer)
        return [...world.batchIds].every((id) => observer.left.has(id)) || observer.problems.length > 0 ? true : undefined
      },
      WAIT_MS,
      `${observer.label} to see all ${world.batchIds.size} hostile identities of the batch leave`,
    )
  }
  for (const observer of world.observers) {
    const { partner } = observer
    if (!partner) continue
    // Signals sent after the last act must arrive too: the relay never stopped.
    const sent = partner.sent
    await observer.member.client.waitFor(
      () => {
        absorb(observer)
        return (observer.seqs.at(-1) ?? 0) >= sent || observer.problems.length > 0 ? true : undefined
      },
      WAIT_MS,
      `${observer.label} to receive ${partner.welcome.id}'s signal #${sent}`,
    )
  }
  const problems = world.observers.flatMap((o) => o.problems)
  if (world.elsewhere.client.received.length !== 1 || world.elsewhere.client.closed) {
    problems.push(`the member of another room received ${JSON.stringify(world.elsewhere.client.received.slice(1)).slice(0, 300)}`)
  }
  if (problems.length > 0) fail(problems.slice(0, 5).join('\n'))

  if (!partykitAlive(world.server.port)) fail(`partykit dev is gone:\n${world.server.output().slice(-2000)}`)
  const probe = await TestClient.join(world.server.wsUrl(`fuzz-probe-${Math.random().toString(36).slice(2, 10)}`)).catch((error: unknown) =>
    fail(`a fresh client can no longer join: ${String(error)}`),
  )
  await probe.client.close()
  const response = await fetch(world.server.httpUrl(world.room))
  const status = v.parse(v.object({ peers: v.number() }), await response.json())
  if (status.peers !== 3) fail(`the room holds ${status.peers} members after the batch, not the 3 who stay`)
  // An exception in the room server's code is logged with its stack through
  // RoomServer (or, in onConnect, as PartyKit's "Error when connecting").
  // workerd's own lines about connections dropped or closed under it
  // (`disconnected: worker_do_not_log`, `Network connection lost`) are its transport's.
  const log = world.server.output().slice(world.logMark).replace(ANSI, '').split('\n')
  const thrown = log.findIndex((line) => /^\s*at RoomServer\.|Error when connecting/.test(line))
  if (thrown !== -1) fail(`the room server threw: ${log.slice(Math.max(0, thrown - 6), thrown + 6).join('\n')}`)
}

async function runBatch(batch: Batch): Promise<void> {
  const opened: TestClient[] = []
  world.batchIds = new Set()
  world.live = new Set()
  world.logMark = world.server.output().length
  // A failed batch's problems were reported with it.
  for (const observer of world.observers) observer.problems = []
  const started = performance.now()
  try {
    for (const act of batch) await runAct(act, opened)
    await checkWorld()
  } finally {
    for (const client of opened) if (!client.closed) client.terminate()
    world.stats.batches++
    world.stats.batchMs += performance.now() - started
  }
}

// Fixtures.

const batchHash = (batch: Batch) => fixtureHash(batch)

function saveFixture(fixture: Fixture): string {
  return saveJsonFixture(FIXTURE_DIR, batchHash(fixture.batch), fixture)
}

function loadFixtures(): { file: string; fixture: Fixture }[] {
  return loadJsonFixtures(FIXTURE_DIR, Fixture, 'fuzz')
}

// The tests.

describe('the hostile generators', () => {
  it('make every client message type, and frames refused with the code each kind is for', () => {
    const ctx: Ctx = { selfId: 'self', elsewhereId: 'elsewhere', departedId: 'departed', members: new Set(['honest']) }
    expect(Object.keys(clientMessageArbs).sort()).toEqual(ClientMessage.options.map((o) => o.entries.type.literal).sort())
    expect(Object.keys(signalDataArbs).sort()).toEqual(SignalData.options.map((o) => o.entries.kind.literal).sort())
    const outcomes = (frames: FrameSpec[]) => new Set(frames.map((frame) => outcomeOf(render(frame, ctx), ctx)))
    const sample = (kind: FrameSpec['t']) =>
      fc.sample(
        frameArb.filter((f) => f.t === kind),
        { seed: SEED, numRuns: 300 },
      )
    expect(outcomes(sample('wrong'))).toEqual(new Set(['bad-message']))
    expect(outcomes(sample('truncated'))).toEqual(new Set(['bad-message']))
    expect(outcomes(sample('bytes'))).toEqual(new Set(['bad-message', 'too-large']))
    expect(outcomes(sample('huge'))).toEqual(new Set(['too-large', 'bad-message', 'unknown-peer', 'pong']))
    expect(outcomes(sample('signal'))).toEqual(new Set(['unknown-peer']))
    expect(outcomes(sample('deep'))).toEqual(new Set(['bad-message', 'too-large', 'pong']))
    // The size rule, pinned apart from the parser: too-large exactly when a frame is over the limit in UTF-8 bytes.
    for (const frame of [
      ...sample('huge'),
      ...sample('deep'),
      ...sample('bytes').filter((f) => f.t === 'bytes' && f.opcode === 'binary'),
    ]) {
      const rendered = render(frame, ctx)
      const bytes = typeof rendered.data === 'string' ? utf8Bytes(onTheWire(rendered.data)) : rendered.data.length
      expect(outcomeOf(rendered, ctx) === 'too-large').toBe(bytes > MAX_FRAME_BYTES)
    }
    // Every field of every message type, nested ones too, gets a value of a wrong type in some frame.
    const many = fc.sample(frameArb, { seed: SEED, numRuns: 20_000 })
    const replaced = new Set(many.flatMap((f) => (f.t === 'wrong' ? f.fields.map((x) => x.path.join('.')) : [])))
    const fields = new Set(
      fc.sample(clientMessageArb, { seed: SEED, numRuns: 2_000 }).flatMap((m) => fieldsOf(ClientMessage, m).map((x) => x.path.join('.'))),
    )
    expect(fields.size).toBeGreaterThan(20)
    expect([...fields].filter((path) => !replaced.has(path))).toEqual([])
  })
})

const fixtures = loadFixtures()
if (fixtures.length > 0) {
  describe('saved hostile batches replay', () => {
    for (const { file, fixture } of fixtures) {
      it(`${fixture.name} (${file})`, () => runBatch(fixture.batch), 120_000)
    }
  })
}

describe('hostile frames against a live room server', () => {
  it(`keeps answering, refuses each bad frame with its code, leaks nothing and keeps relaying (at least ${MIN_FRAMES} frames)`, async () => {
    let failures = 0
    let shrinkRuns = 0
    const property = fc.asyncProperty(batchArb, async (batch) => {
      // Past the budget, fast-check keeps the smallest failing batch found so far.
      if (failures > 0 && ++shrinkRuns > SHRINK_BUDGET) return
      try {
        await runBatch(batch)
      } catch (error) {
        failures++
        throw error
      }
    })
    // As many runs as it takes for MIN_FRAMES frames: fc.assert generates the
    // batches fc.sample gives for the same seed, in the same order.
    const planned = fc.sample(batchArb, { seed: SEED, numRuns: 1_000 }).map(framesOf)
    let numRuns = 0
    let frames = 0
    while (frames < MIN_FRAMES && numRuns < planned.length) frames += planned[numRuns++]
    console.log(`fuzz: seed ${SEED} (MESHCALL_FUZZ_SEED), ${numRuns} batches, ${frames} hostile frames`)
    expect(frames).toBeGreaterThanOrEqual(MIN_FRAMES)
    const before = world.stats.hostileFrames
    const started = performance.now()

    await fc.assert(property, {
      seed: SEED,
      numRuns,
      reporter: (details) => {
        if (!details.failed) return
        const failure = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
        const batch = details.counterexample?.[0]
        const saved = batch
          ? saveFixture({
              name: `found ${batchHash(batch)}: ${failure.split('\n')[0].slice(0, 160)}`,
              about: `found by fast-check with seed ${SEED}; the smallest failing batch it shrank to in ${details.numShrinks} shrinks`,
              seed: SEED,
              failure,
              batch,
            })
          : 'nowhere (no counterexample)'
        throw new Error(
          `${failure}\n\nafter ${details.numRuns} batches (seed ${SEED}); shrunk in ${details.numShrinks} steps and saved as ${saved}`,
        )
      },
    })
    const seconds = (performance.now() - started) / 1000
    console.log(`fuzz: the property sent ${frames} hostile frames in ${seconds.toFixed(1)} s: ${Math.round(frames / seconds)} frames/s`)
    expect(world.stats.hostileFrames - before).toBe(frames)
  }, 600_000)

  it('delivered every honest signal, in order, none lost, none doubled', async () => {
    clearInterval(honestTimer)
    for (const observer of world.observers) {
      const { partner } = observer
      if (!partner) continue
      await observer.member.client.waitFor(
        () => {
          absorb(observer)
          return (observer.seqs.at(-1) ?? 0) >= partner.sent ? true : undefined
        },
        WAIT_MS,
        `${observer.label} to receive ${partner.welcome.id}'s last signal, #${partner.sent}`,
      )
      const seen = new Set(observer.seqs)
      expect({
        lost: Array.from({ length: partner.sent }, (_, i) => i + 1).filter((seq) => !seen.has(seq)),
        doubled: observer.seqs.length - seen.size,
        outOfOrder: observer.seqs.filter((seq, i) => i > 0 && seq < observer.seqs[i - 1]).length,
      }).toEqual({ lost: [], doubled: 0, outOfOrder: 0 })
    }
    expect(world.a.sent).toBeGreaterThan(0)
  })
})
