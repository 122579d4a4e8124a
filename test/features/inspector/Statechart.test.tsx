// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react'
import { afterEach, describe, expect, test } from 'vitest'
import { createMachine, type AnyStateNode } from 'xstate'
import { machineGraph } from '../../../machines/inspect/graph'
import { peerMachine } from '../../../machines/peerMachine'
import { roomMachine } from '../../../machines/roomMachine'
import { Statechart } from '../../../src/features/inspector/Statechart'
import '../../../src/i18n'

afterEach(cleanup)

const NEGOTIATION = 'peer.active.negotiation'
const OFFERING = { active: { negotiation: 'makingOffer', connection: 'connecting', channel: 'closed', liveness: 'idle' } }
const CONNECTED = { active: { negotiation: 'stable', connection: 'connected', channel: 'open', liveness: 'hearing' } }

function allStateIds(stateNode: AnyStateNode): string[] {
  return [stateNode.id, ...Object.values(stateNode.states).flatMap(allStateIds)]
}

/** Waits for the layout, then returns the chart's svg. */
async function chart(): Promise<SVGSVGElement> {
  const figure = screen.getByTestId('statechart')
  const svg = await within(figure).findByRole('img', {}, { timeout: 10_000 })
  if (!(svg instanceof SVGSVGElement)) throw new Error('the chart is not an svg')
  return svg
}

function stateIdsIn(element: Element): string[] {
  return [...element.querySelectorAll('[data-state-id]')].map((node) => node.getAttribute('data-state-id') ?? '')
}

function activeIdsIn(element: Element): string[] {
  return [...element.querySelectorAll('[data-active="true"]')].map((node) => node.getAttribute('data-state-id') ?? '').sort()
}

describe('Statechart', () => {
  test('shows a placeholder inside the figure until the layout is ready', async () => {
    const machine = createMachine({ id: 'tiny', initial: 'a', states: { a: { on: { go: 'b' } }, b: {} } })
    render(<Statechart machine={machine} actorId="tiny-1" value="a" />)
    const figure = screen.getByTestId('statechart')
    expect(figure.tagName).toBe('FIGURE')
    expect(figure.getAttribute('data-actor')).toBe('tiny-1')
    expect(within(figure).getByText('laying out…')).toBeTruthy()
    await chart()
    expect(within(figure).queryByText('laying out…')).toBeNull()
    expect(stateIdsIn(figure).sort()).toEqual(['tiny', 'tiny.a', 'tiny.b'])
  })

  test('draws one element for every state of the peer machine', async () => {
    render(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} />)
    const svg = await chart()
    const ids = stateIdsIn(svg)
    expect(ids.sort()).toEqual(allStateIds(peerMachine.root).sort())
    expect(new Set(ids).size).toBe(ids.length)
    expect(svg.getAttribute('viewBox')).toMatch(/^0 0 \d+(\.\d+)? \d+(\.\d+)?$/)
    expect(Number(svg.getAttribute('data-layout-ms'))).toBeLessThan(5_000)
  })

  test('every transition with a target is a routed edge with its event and guard', async () => {
    render(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} />)
    const svg = await chart()
    const { edges } = machineGraph(peerMachine)
    for (const edge of edges) {
      const drawn = svg.querySelector(`[data-edge-id="${edge.id}"]`)
      expect(drawn, edge.id).not.toBeNull()
      if (edge.targets.length > 0) expect(drawn?.querySelector('path')?.getAttribute('d'), edge.id).toMatch(/^M[\d.-]+,[\d.-]+ L/)
    }
    const labels = [...svg.querySelectorAll('[data-edge-id] text, text[data-edge-id]')].map((text) => text.textContent)
    expect(labels).toContain('remote.description [isOffer]')
    expect(labels).toContain('remote.description [mustIgnoreOffer]')
    expect(labels).toContain('after firstOfferWait [negotiationDeferred]')
    expect(labels).toContain('done: setLocalDescription [madeOffer]')
  })

  test('marks exactly the active states and their ancestors, and the highlight follows the value', async () => {
    const { rerender } = render(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} />)
    const svg = await chart()
    expect(activeIdsIn(svg)).toEqual(
      [
        'peer',
        'peer.active',
        NEGOTIATION,
        `${NEGOTIATION}.makingOffer`,
        'peer.active.connection',
        'peer.active.connection.connecting',
        'peer.active.channel',
        'peer.active.channel.closed',
        'peer.active.liveness',
        'peer.active.liveness.idle',
      ].sort(),
    )
    expect(svg.querySelector(`[data-state-id="${NEGOTIATION}.makingOffer"]`)?.getAttribute('class')).toContain('statechart__state--active')

    rerender(<Statechart machine={peerMachine} actorId="p1" value={CONNECTED} />)
    expect(activeIdsIn(svg)).toEqual(
      [
        'peer',
        'peer.active',
        NEGOTIATION,
        `${NEGOTIATION}.stable`,
        'peer.active.connection',
        'peer.active.connection.connected',
        'peer.active.channel',
        'peer.active.channel.open',
        'peer.active.liveness',
        'peer.active.liveness.hearing',
      ].sort(),
    )
    expect(svg.querySelector(`[data-state-id="${NEGOTIATION}.makingOffer"]`)?.hasAttribute('data-active')).toBe(false)
  })

  test('animates the edge of the last transition', async () => {
    const lastTransition = {
      sourceIds: [`${NEGOTIATION}.stable`],
      targetIds: [`${NEGOTIATION}.makingOffer`],
      event: 'pc.negotiationNeeded',
    }
    const { rerender } = render(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} lastTransition={lastTransition} />)
    const svg = await chart()
    const taken = [...svg.querySelectorAll('.statechart__edge--taken')].map((edge) => edge.getAttribute('data-edge-id'))
    const expected = machineGraph(peerMachine).edges.find(
      (edge) => edge.source === `${NEGOTIATION}.stable` && edge.event === 'pc.negotiationNeeded',
    )
    expect(taken).toEqual([expected?.id])

    rerender(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} lastTransition={null} />)
    expect(svg.querySelectorAll('.statechart__edge--taken')).toHaveLength(0)
  })

  test('summarises the active states for assistive technology', async () => {
    render(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} title="peer bob" />)
    const svg = await chart()
    expect(svg.getAttribute('aria-label')).toBe(
      'peer bob statechart; active: active.negotiation.makingOffer, active.connection.connecting, active.channel.closed, active.liveness.idle',
    )
    const list = screen.getByRole('list', { name: 'Active states of peer bob' })
    expect(
      within(list)
        .getAllByRole('listitem')
        .map((item) => item.textContent),
    ).toContain(`${NEGOTIATION}.makingOffer`)
  })

  test('zooms with the buttons and with ctrl + wheel, and fits again', async () => {
    render(<Statechart machine={peerMachine} actorId="p1" value={OFFERING} />)
    const svg = await chart()
    const full = svg.getAttribute('viewBox')
    const width = () => Number(svg.getAttribute('viewBox')?.split(' ')[2])
    const fullWidth = width()

    fireEvent.click(screen.getByRole('button', { name: 'Zoom in' }))
    expect(width()).toBeCloseTo(fullWidth / 1.25)
    fireEvent.wheel(svg, { ctrlKey: true, deltaY: -100 })
    expect(width()).toBeLessThan(fullWidth / 1.25)
    fireEvent.click(screen.getByRole('button', { name: 'Fit to view' }))
    expect(svg.getAttribute('viewBox')).toBe(full)
    // Not zoomed in, a plain wheel is left to scroll the page.
    fireEvent.wheel(svg, { deltaY: 100 })
    expect(svg.getAttribute('viewBox')).toBe(full)
  })

  test('draws the room machine', async () => {
    render(<Statechart machine={roomMachine} actorId="room" value={{ online: 'joined' }} />)
    const svg = await chart()
    expect(stateIdsIn(svg).sort()).toEqual(allStateIds(roomMachine.root).sort())
    expect(activeIdsIn(svg)).toEqual(['room', 'room.online', 'room.online.joined'])
    expect(svg.getAttribute('aria-label')).toBe('room statechart; active: online.joined')
  })

  test('a value that does not fit the machine is reported, not thrown', async () => {
    render(<Statechart machine={roomMachine} actorId="room" value="nowhere" />)
    expect((await screen.findByRole('alert')).textContent).toMatch(/"nowhere" is not a state of room/)
    await chart()
  })
})
