import { describe, expect, test } from 'vitest'
import { and, createActor, fromPromise, not, or, setup, stateIn, type AnyStateMachine, type AnyStateNode } from 'xstate'
import { activeStateIds, edgeMatchesEvent, machineGraph, takenEdgeIds, type ChartEdge } from '../../../machines/inspect/graph'
import { peerMachine } from '../../../machines/peerMachine'
import { roomMachine } from '../../../machines/roomMachine'

function allStateIds(stateNode: AnyStateNode): string[] {
  return [stateNode.id, ...Object.values(stateNode.states).flatMap(allStateIds)]
}

function edgesFrom(machine: AnyStateMachine, source: string, event?: string): ChartEdge[] {
  return machineGraph(machine).edges.filter((edge) => edge.source === source && (event === undefined || edge.event === event))
}

const NEGOTIATION = 'peer.active.negotiation'
const NEGOTIATION_ID = '#peer.active.negotiation'

/** A small machine with every kind of transition the graph reads. */
const sampleMachine = setup({
  guards: {
    ready: () => true,
    busy: () => false,
    named: (_, params: { n: number }) => params.n > 0,
  },
  actors: { load: fromPromise(async () => 'loaded') },
  delays: { backoff: 100 },
}).createMachine({
  id: 'sample',
  initial: 'idle',
  states: {
    idle: {
      on: {
        'go.and': { guard: and(['ready', not(stateIn('#sample.busy'))]), target: 'loading' },
        'go.or': { guard: or(['ready', 'busy']), target: 'loading' },
        'go.inline': { guard: ({ event }) => event.type === 'go.inline', target: 'loading' },
        'go.params': { guard: { type: 'named', params: { n: 1 } }, target: 'loading' },
        'go.value': { guard: stateIn({ work: 'loading' }), target: 'loading' },
        'log.*': { actions: () => {} },
        start: 'work',
      },
      after: { 500: 'busy', backoff: { target: 'busy', guard: 'busy' } },
    },
    loading: {
      invoke: { id: 'loader', src: 'load', onDone: 'idle', onError: { target: 'busy', reenter: true } },
    },
    busy: { always: { guard: 'ready', target: 'idle' } },
    work: {
      initial: 'step',
      onDone: 'finished',
      states: {
        step: { on: { next: 'done' } },
        done: { type: 'final' },
        hist: { type: 'history' },
      },
    },
    finished: { type: 'final' },
  },
})

describe('machineGraph', () => {
  test('every state of the peer machine is a node, parents first', () => {
    const { nodes } = machineGraph(peerMachine)
    const ids = nodes.map((node) => node.id)
    expect(ids).toEqual(allStateIds(peerMachine.root))
    expect(new Set(ids).size).toBe(ids.length)
    expect(nodes[0]).toMatchObject({ id: 'peer', key: 'peer', parentId: null, depth: 0, type: 'compound', initial: 'peer.active' })
    for (const node of nodes.slice(1)) {
      expect(ids.indexOf(node.parentId ?? ''), node.id).toBeLessThan(ids.indexOf(node.id))
    }
  })

  test('nodes carry type, tags, initial child and depth', () => {
    const nodes = new Map(machineGraph(peerMachine).nodes.map((node) => [node.id, node]))
    expect(nodes.get('peer.active')).toMatchObject({ type: 'parallel', initial: null, depth: 1 })
    expect(nodes.get(NEGOTIATION)).toMatchObject({ type: 'compound', initial: `${NEGOTIATION}.starting`, parentId: 'peer.active' })
    expect(nodes.get('peer.active.connection.connected')).toMatchObject({ type: 'atomic', tags: ['connected'], depth: 3 })
    expect(machineGraph(roomMachine).nodes.find((node) => node.id === 'room.left')?.type).toBe('final')
    expect(machineGraph(sampleMachine).nodes.find((node) => node.id === 'sample.work.hist')?.type).toBe('history')
  })

  test('the negotiation region routes remote.description by the perfect-negotiation guards', () => {
    const edges = edgesFrom(peerMachine, NEGOTIATION, 'remote.description')
    expect(edges.map((edge) => [edge.guard, edge.targets])).toEqual([
      ['isUnexpectedAnswer', []],
      [`and(isAnsweredOffer, stateIn(${NEGOTIATION_ID}.awaitingAnswer))`, []],
      ['isAnsweredOffer', []],
      ['isStaleOffer', []],
      ['mustIgnoreOffer', []],
      ['mustSwapFirstOffer', ['peer.active']],
      ['isOffer', [`${NEGOTIATION}.settingRemoteOffer`]],
      [null, [`${NEGOTIATION}.settingRemoteAnswer`]],
    ])
    // Only the swap to a fresh connection re-enters (the whole active state).
    expect(edges.filter((edge) => edge.reenter).map((edge) => edge.guard)).toEqual(['mustSwapFirstOffer'])
    expect(edges.every((edge) => edge.delay === null)).toBe(true)
  })

  test('always, after and invoke transitions get readable labels', () => {
    expect(edgesFrom(peerMachine, `${NEGOTIATION}.starting`).map((edge) => [edge.event, edge.guard])).toEqual([
      ['always', 'isInitiator'],
      ['always', null],
    ])
    expect(edgesFrom(peerMachine, `${NEGOTIATION}.waitingForOffer`, 'after firstOfferWait')).toMatchObject([
      { delay: 'firstOfferWait', guard: 'negotiationDeferred', targets: [`${NEGOTIATION}.makingOffer`] },
      { delay: 'firstOfferWait', guard: null, targets: [`${NEGOTIATION}.stable`] },
    ])
    expect(edgesFrom(roomMachine, 'room.joining', 'after mediaWait')).toMatchObject([{ delay: 'mediaWait', targets: ['room.online'] }])
    expect(edgesFrom(peerMachine, `${NEGOTIATION}.makingOffer`).map((edge) => [edge.event, edge.guard, edge.targets])).toEqual([
      ['done: setLocalDescription', 'madeOffer', [`${NEGOTIATION}.awaitingAnswer`]],
      ['done: setLocalDescription', null, [`${NEGOTIATION}.stable`]],
      ['error: setLocalDescription', null, [`${NEGOTIATION}.stable`]],
    ])
    expect(edgesFrom(sampleMachine, 'sample.loading').map((edge) => [edge.event, edge.reenter])).toEqual([
      ['done: load', false],
      ['error: load', true],
    ])
    expect(edgesFrom(sampleMachine, 'sample.work').map((edge) => [edge.event, edge.targets])).toEqual([['done', ['sample.finished']]])
    expect(edgesFrom(sampleMachine, 'sample.idle').filter((edge) => edge.delay !== null)).toMatchObject([
      { event: 'after 500', delay: '500', guard: null },
      { event: 'after backoff', delay: 'backoff', guard: 'busy' },
    ])
  })

  test('wildcard and targetless transitions are edges; a re-entering one says so', () => {
    const signal = edgesFrom(peerMachine, 'peer.active', 'signal.*')
    expect(signal.map((edge) => [edge.guard, edge.targets, edge.reenter])).toEqual([
      ['isStaleSession', [], false],
      ['isFromNewRemoteConnection', ['peer.active'], true],
      ['isStaleAck', [], false],
      ['isOutOfOrder', [], false],
      [null, [], false],
    ])
    expect(edgesFrom(peerMachine, 'peer.active', 'pc.iceCandidate')).toMatchObject([{ targets: [], guard: null }])
    expect(edgesFrom(sampleMachine, 'sample.idle', 'log.*')).toMatchObject([{ targets: [] }])
  })

  test('higher-order, inline and parameterised guards read as expressions', () => {
    const guards = Object.fromEntries(edgesFrom(sampleMachine, 'sample.idle').map((edge) => [edge.event, edge.guard]))
    expect(guards).toMatchObject({
      'go.and': 'and(ready, not(stateIn(#sample.busy)))',
      'go.or': 'or(ready, busy)',
      'go.inline': 'guard',
      'go.params': 'named',
      'go.value': 'stateIn({"work":"loading"})',
      start: null,
    })
  })

  test('edge ids are unique', () => {
    for (const machine of [peerMachine, roomMachine, sampleMachine]) {
      const ids = machineGraph(machine).edges.map((edge) => edge.id)
      expect(new Set(ids).size).toBe(ids.length)
    }
  })
})

describe('activeStateIds', () => {
  test('a snapshot of a running actor gives its states and their ancestors', async () => {
    const actor = createActor(sampleMachine).start()
    expect(activeStateIds(sampleMachine, actor.getSnapshot().value)).toEqual(['sample', 'sample.idle'])
    actor.send({ type: 'start' })
    expect(actor.getSnapshot().value).toEqual({ work: 'step' })
    expect(activeStateIds(sampleMachine, actor.getSnapshot().value)).toEqual(['sample', 'sample.work', 'sample.work.step'])
    actor.send({ type: 'next' })
    expect(activeStateIds(sampleMachine, actor.getSnapshot().value)).toEqual(['sample', 'sample.finished'])
    actor.stop()
  })

  test('every region of the peer machine is followed', () => {
    const value = { active: { negotiation: 'makingOffer', connection: 'connecting', channel: 'closed', liveness: 'silent' } }
    expect(activeStateIds(peerMachine, value)).toEqual([
      'peer',
      'peer.active',
      NEGOTIATION,
      `${NEGOTIATION}.makingOffer`,
      'peer.active.connection',
      'peer.active.connection.connecting',
      'peer.active.channel',
      'peer.active.channel.closed',
      'peer.active.liveness',
      'peer.active.liveness.silent',
    ])
  })

  test('a compound state named alone counts with its initial descendants', () => {
    expect(activeStateIds(peerMachine, 'active')).toEqual([
      'peer',
      'peer.active',
      NEGOTIATION,
      `${NEGOTIATION}.starting`,
      'peer.active.connection',
      'peer.active.connection.connecting',
      'peer.active.channel',
      'peer.active.channel.closed',
      'peer.active.liveness',
      'peer.active.liveness.idle',
    ])
  })

  test('a value naming no state of the machine is an error', () => {
    expect(() => activeStateIds(peerMachine, { nowhere: 'x' })).toThrow(/"nowhere" is not a state of peer/)
  })
})

describe('takenEdgeIds', () => {
  const graph = machineGraph(peerMachine)
  const idOf = (source: string, event: string, guard: string | null = null) =>
    graph.edges.find((edge) => edge.source === source && edge.event === event && edge.guard === guard)?.id
  const active = (negotiation: string, connection = 'connecting') =>
    activeStateIds(peerMachine, { active: { negotiation, connection, channel: 'closed' } })

  test('a step between sibling states takes the edge with its event', () => {
    const transition = { sourceIds: [`${NEGOTIATION}.stable`], targetIds: [`${NEGOTIATION}.makingOffer`], event: 'pc.negotiationNeeded' }
    expect(takenEdgeIds(graph, transition, active('makingOffer'))).toEqual([idOf(`${NEGOTIATION}.stable`, 'pc.negotiationNeeded')])
  })

  test('a transition of the region into a child is found from the child entered', () => {
    const transition = {
      sourceIds: [`${NEGOTIATION}.stable`],
      targetIds: [`${NEGOTIATION}.settingRemoteOffer`],
      event: 'remote.description',
    }
    expect(takenEdgeIds(graph, transition, active('settingRemoteOffer'))).toEqual([idOf(NEGOTIATION, 'remote.description', 'isOffer')])
  })

  test('a delayed step matches the xstate.after event', () => {
    const transition = {
      sourceIds: [`${NEGOTIATION}.waitingForOffer`],
      targetIds: [`${NEGOTIATION}.stable`],
      event: `xstate.after.firstOfferWait.${NEGOTIATION}.waitingForOffer`,
    }
    expect(takenEdgeIds(graph, transition, active('stable'))).toEqual([idOf(`${NEGOTIATION}.waitingForOffer`, 'after firstOfferWait')])
  })

  test('a step through a transient state takes both hops', () => {
    const connection = 'peer.active.connection'
    const transition = { sourceIds: [`${connection}.connected`], targetIds: [`${connection}.recovering`], event: 'ui.restartIce' }
    expect(takenEdgeIds(graph, transition, active('stable', 'recovering'))).toEqual([
      idOf(`${connection}.connected`, 'ui.restartIce'),
      idOf(`${connection}.restarting`, 'always'),
    ])
  })

  test('a step that entered nothing takes the targetless edges for its event', () => {
    const transition = { sourceIds: [], targetIds: [], event: 'pc.track' }
    expect(takenEdgeIds(graph, transition, active('stable'))).toEqual([idOf('peer.active', 'pc.track')])
    expect(takenEdgeIds(graph, { ...transition, event: '' }, active('stable'))).toEqual([])
  })

  test('events match wildcards, invoke results and always', () => {
    const [wildcard] = edgesFrom(peerMachine, 'peer.active', 'signal.*')
    expect(edgeMatchesEvent(wildcard, 'signal.description')).toBe(true)
    expect(edgeMatchesEvent(wildcard, 'signals')).toBe(false)
    const [done] = edgesFrom(peerMachine, `${NEGOTIATION}.makingOffer`)
    expect(edgeMatchesEvent(done, `xstate.done.actor.0.${NEGOTIATION}.makingOffer`)).toBe(true)
    expect(edgeMatchesEvent(done, 'done: setLocalDescription')).toBe(true)
    const [always] = edgesFrom(peerMachine, `${NEGOTIATION}.starting`)
    expect(edgeMatchesEvent(always, '')).toBe(true)
  })
})
