/**
 * Random schedules for the mesh: what happens, step by step, to a call of
 * 2 to 4 participants, as data that fast-check generates and shrinks and
 * that a JSON fixture can hold.
 */
import { join } from 'node:path'
import fc from 'fast-check'
import * as v from 'valibot'
import type { PeerTimings } from '../../machines/peer/types'
import type { SignalData } from '../../protocol/messages'
import { fixtureHash, loadJsonFixtures, saveJsonFixture } from '../support/fixtures'
import { createMesh, microtasks, PEER_IDS, type Backend, type Initiators, type MediaFlags, type Mesh, type MeshOptions } from './mesh'

const PeerId = v.picklist(PEER_IDS)
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))
const MessageKindSchema = v.picklist(['offer', 'answer', 'candidate'])
const MediaFlagsSchema = v.object({ audio: v.boolean(), video: v.boolean(), screen: v.boolean() })

/** One thing that happens to the mesh. Steps that name someone away, or an empty queue, do nothing. */
const StepSchema = v.variant('t', [
  /** Delivers the first `count` messages waiting from `from` to `to`, in order. */
  v.object({ t: v.literal('deliver'), from: PeerId, to: PeerId, count: Count }),
  /** Delivers the message at `index` of the queue (modulo its length) ahead of those sent before it. */
  v.object({ t: v.literal('reorder'), from: PeerId, to: PeerId, index: Count }),
  /** Delivers again the message `back` places from the last one delivered (modulo), of `kind` if given. */
  v.object({ t: v.literal('duplicate'), from: PeerId, to: PeerId, back: Count, kind: v.optional(MessageKindSchema) }),
  /** A participant starts its microphone or camera, or starts or stops sharing its screen. */
  v.object({ t: v.literal('media'), peer: PeerId, change: v.picklist(['audio', 'video', 'screen']) }),
  /** The user restarts ICE on one pair, from one side. */
  v.object({ t: v.literal('restartIce'), peer: PeerId, remote: PeerId }),
  /** `ms` of clock time pass: named delays fire, and the network's clock moves. */
  v.object({ t: v.literal('delay'), ms: Count }),
  /** Lets `count` queued tasks run: WebRTC operations and events make progress. */
  v.object({ t: v.literal('tasks'), count: Count }),
  /** Runs until nothing is pending. */
  v.object({ t: v.literal('settle') }),
  /** Delivers everything in flight, in order, until nothing more is sent. */
  v.object({ t: v.literal('flush') }),
  /** The signaling socket comes back, and the last `replay` messages from each other participant come again. */
  v.object({ t: v.literal('reconnect'), peer: PeerId, replay: Count }),
  /** A reload that resumes the id: new actors and connections; the others keep theirs. */
  v.object({ t: v.literal('reload'), peer: PeerId }),
  /** Leaves the room: the others stop their actors for it. */
  v.object({ t: v.literal('leave'), peer: PeerId }),
  /** Comes back after `leave`, as a newcomer. */
  v.object({ t: v.literal('join'), peer: PeerId }),
])
export type Step = v.InferOutput<typeof StepSchema>

/** A signaling message by what it carries. */
export type MessageKind = v.InferOutput<typeof MessageKindSchema>

export function kindOf(data: SignalData): MessageKind {
  if (data.kind === 'description') return data.description.type === 'offer' ? 'offer' : 'answer'
  // Candidates, end-of-candidates, and the polite side's restart requests: what travels beside the descriptions.
  return 'candidate'
}

const ScheduleSchema = v.pipe(
  v.object({
    /** Participants `a`, `b`, … joined in that order. */
    peers: v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(PEER_IDS.length)),
    initiators: v.picklist(['later', 'both']),
    /** What each participant sends from the start. */
    start: v.array(MediaFlagsSchema),
    steps: v.array(StepSchema),
  }),
  v.check((s) => s.start.length === s.peers, 'start must list one entry per participant'),
)
export type Schedule = v.InferOutput<typeof ScheduleSchema>

const FixtureSchema = v.object({
  /** Names the replay tests. */
  name: v.string(),
  /** Why the schedule is interesting, or how it was found. */
  about: v.optional(v.string()),
  /** fast-check's seed and shrink path, for a schedule from a failing run. */
  seed: v.optional(v.number()),
  path: v.optional(v.string()),
  /** What did not converge, for a schedule from a failing run. */
  failure: v.optional(v.string()),
  schedule: ScheduleSchema,
})
export type Fixture = v.InferOutput<typeof FixtureSchema>

/** Timings for model runs: the clock is simulated, so only their order matters. */
export const MODEL_TIMINGS: Partial<PeerTimings> = {
  firstOfferWaitMs: 300,
  answerTimeoutMs: 1_000,
  disconnectedMs: 1_000,
  connectTimeoutMs: 4_000,
  restartBackoffMs: 500,
  maxRestarts: 5,
}

const mediaFlags: fc.Arbitrary<MediaFlags> = fc.record({ audio: fc.boolean(), video: fc.boolean(), screen: fc.constant(false) })

/**
 * What a schedule may do beyond in-order delivery, media changes, ICE
 * restarts, short delays and letting tasks run:
 * - `reorder`: deliver a message ahead of those sent before it;
 * - `duplicate`: deliver a message again;
 * - `longDelay`: let time pass past the answer timeout (offers are sent again);
 * - `reconnect`: the signaling socket comes back, with replayed messages;
 * - `reload`: a participant reloads and resumes its id (the server holds
 *   the signals sent to it meanwhile and delivers them to the new page);
 * - `leave`: a participant leaves, and may join again.
 */
export type Disruption = 'reorder' | 'duplicate' | 'longDelay' | 'reconnect' | 'reload' | 'leave'
export const ALL_DISRUPTIONS: readonly Disruption[] = ['reorder', 'duplicate', 'longDelay', 'reconnect', 'reload', 'leave']

type Weighted = fc.WeightedArbitrary<Step>

function stepArb(n: number, disruptions: readonly Disruption[]): fc.Arbitrary<Step> {
  const peer = fc.integer({ min: 0, max: n - 1 }).map((i) => PEER_IDS[i])
  // A directed pair: `to` is `from` plus an offset, so the two always differ.
  const pair = fc
    .record({ from: fc.integer({ min: 0, max: n - 1 }), offset: fc.integer({ min: 1, max: n - 1 }) })
    .map(({ from, offset }) => ({ from: PEER_IDS[from], to: PEER_IDS[(from + offset) % n] }))
  const remoteOf = fc
    .record({ self: fc.integer({ min: 0, max: n - 1 }), offset: fc.integer({ min: 1, max: n - 1 }) })
    .map(({ self, offset }) => ({ peer: PEER_IDS[self], remote: PEER_IDS[(self + offset) % n] }))
  const delays = disruptions.includes('longDelay') ? [100, 300, 1_000, 3_000] : [100, 300]
  const always: Weighted[] = [
    { weight: 12, arbitrary: pair.chain((p) => fc.integer({ min: 1, max: 4 }).map((count) => ({ t: 'deliver' as const, ...p, count }))) },
    {
      weight: 3,
      arbitrary: fc
        .record({ peer, change: fc.constantFrom<keyof MediaFlags>('audio', 'video', 'screen') })
        .map((s) => ({ t: 'media' as const, ...s })),
    },
    { weight: 2, arbitrary: remoteOf.map((s) => ({ t: 'restartIce' as const, ...s })) },
    { weight: 2, arbitrary: fc.constantFrom(...delays).map((ms) => ({ t: 'delay' as const, ms })) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 12 }).map((count) => ({ t: 'tasks' as const, count })) },
    { weight: 4, arbitrary: fc.constant({ t: 'settle' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
  ]
  const optional: Record<Disruption, Weighted[]> = {
    reorder: [
      { weight: 3, arbitrary: pair.chain((p) => fc.integer({ min: 1, max: 5 }).map((index) => ({ t: 'reorder' as const, ...p, index }))) },
    ],
    duplicate: [
      {
        weight: 3,
        arbitrary: pair.chain((p) =>
          fc
            .record({ back: fc.integer({ min: 0, max: 5 }), kind: fc.constantFrom<MessageKind | undefined>(undefined, 'offer', 'answer') })
            .map(({ back, kind }) => ({ t: 'duplicate' as const, ...p, back, ...(kind ? { kind } : {}) })),
        ),
      },
    ],
    longDelay: [],
    reconnect: [
      {
        weight: 1,
        arbitrary: fc.record({ peer, replay: fc.integer({ min: 0, max: 4 }) }).map((s) => ({ t: 'reconnect' as const, ...s })),
      },
    ],
    reload: [{ weight: 1, arbitrary: peer.map((p) => ({ t: 'reload' as const, peer: p })) }],
    leave: [
      { weight: 1, arbitrary: peer.map((p) => ({ t: 'leave' as const, peer: p })) },
      { weight: 1, arbitrary: peer.map((p) => ({ t: 'join' as const, peer: p })) },
    ],
  }
  return fc.oneof(...always, ...disruptions.flatMap((d) => optional[d]))
}

/** Schedules of 2 to 4 participants and up to `maxSteps` steps, with the given disruptions. */
export function scheduleArb({
  maxSteps = 30,
  disruptions = ALL_DISRUPTIONS,
}: { maxSteps?: number; disruptions?: readonly Disruption[] } = {}): fc.Arbitrary<Schedule> {
  return fc.integer({ min: 2, max: 4 }).chain((peers) =>
    fc.record({
      peers: fc.constant(peers),
      initiators: fc.constantFrom<Initiators>('later', 'both'),
      start: fc.array(mediaFlags, { minLength: peers, maxLength: peers }),
      steps: fc.array(stepArb(peers, disruptions), { maxLength: maxSteps }),
    }),
  )
}

/**
 * Runs one step against the mesh. Steps naming someone away, or an empty
 * queue, do nothing. Whatever arrives from outside (a message, a click) is
 * a task: its microtasks run before the next step.
 */
export async function runStep(mesh: Mesh, step: Step): Promise<void> {
  await act(mesh, step)
  await microtasks()
}

async function act(mesh: Mesh, step: Step): Promise<void> {
  switch (step.t) {
    case 'deliver':
      for (let i = 0; i < step.count; i++) {
        mesh.deliver(step.from, step.to)
        await microtasks()
      }
      return
    case 'reorder':
      mesh.deliver(step.from, step.to, step.index)
      return
    case 'duplicate': {
      const done = mesh.delivered(step.from, step.to).filter((data) => step.kind === undefined || kindOf(data) === step.kind)
      if (done.length > 0) mesh.hand(step.from, step.to, done[done.length - 1 - (step.back % done.length)])
      return
    }
    case 'media':
      if (mesh.present(step.peer)) mesh.changeMedia(step.peer, step.change)
      return
    case 'restartIce':
      mesh.restartIce(step.peer, step.remote)
      return
    case 'delay':
      await mesh.elapse(step.ms)
      return
    case 'tasks':
      await mesh.backend.tasks(step.count)
      return
    case 'settle':
      await mesh.settle()
      return
    case 'flush':
      for (let round = 0; round < 100; round++) {
        await mesh.flush()
        await mesh.settle()
        if (mesh.inFlight() === 0) return
      }
      return
    case 'reconnect':
      if (!mesh.present(step.peer)) return
      mesh.signalingRestored(step.peer)
      for (const other of mesh.ids) {
        if (other === step.peer) continue
        const done = mesh.delivered(other, step.peer)
        for (const data of done.slice(Math.max(0, done.length - step.replay))) {
          mesh.hand(other, step.peer, data)
          await microtasks()
        }
      }
      return
    case 'reload':
      mesh.reload(step.peer)
      return
    case 'leave':
      mesh.leave(step.peer)
      return
    case 'join':
      mesh.join(step.peer)
      return
  }
}

export type RunResult = { problems: string[]; steps: number }

/** Runs a schedule on a backend, then delivers everything until quiet, and reports what has not converged. */
export async function runSchedule(
  schedule: Schedule,
  backend: Backend,
  extra: Pick<MeshOptions, 'machine' | 'timings'> = {},
  quiesce?: { quantumMs?: number; maxMs?: number },
): Promise<RunResult> {
  const mesh = await createMesh({
    size: schedule.peers,
    backend,
    initiators: schedule.initiators,
    start: schedule.start,
    timings: extra.timings ?? MODEL_TIMINGS,
    machine: extra.machine,
  })
  try {
    for (const step of schedule.steps) await runStep(mesh, step)
    const problems = await mesh.quiesce(quiesce)
    return { problems, steps: schedule.steps.length }
  } finally {
    mesh.stop()
  }
}

/** A short, stable name for a schedule: its content hash. */
export function scheduleHash(schedule: Schedule): string {
  return fixtureHash(schedule)
}

export const FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'schedules')

/** Writes a failing schedule as `<hash>.json`; returns the file's path. */
export function saveFixture(fixture: Fixture, dir = FIXTURE_DIR): string {
  return saveJsonFixture(dir, scheduleHash(fixture.schedule), fixture)
}

/** Every fixture in the directory, by file name. */
export function loadFixtures(dir = FIXTURE_DIR): { file: string; fixture: Fixture }[] {
  return loadJsonFixtures(dir, FixtureSchema, 'schedule')
}
