// @vitest-environment jsdom
import { cleanup, render, screen, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { StatsSample } from '../../../machines/inspect/stats'
import { StatsCharts } from '../../../src/features/inspector/StatsCharts'
import '../../../src/i18n'

/** Stands in for uPlot where a canvas is faked, recording what the component asks of it. */
const plots = vi.hoisted(() => {
  type Recorded = { data: unknown[][]; sizes: unknown[]; destroyed: boolean }
  const created: Recorded[] = []
  class FakePlot {
    readonly recorded: Recorded
    constructor(_options: unknown, data: unknown[][]) {
      this.recorded = { data: [data], sizes: [], destroyed: false }
      created.push(this.recorded)
    }
    setData(data: unknown[][]) {
      this.recorded.data.push(data)
    }
    setSize(size: unknown) {
      this.recorded.sizes.push(size)
    }
    destroy() {
      this.recorded.destroyed = true
    }
  }
  return { created, FakePlot }
})
vi.mock('uplot', () => ({ default: plots.FakePlot }))

const PAIR = { localType: 'host', remoteType: 'host', protocol: 'udp' }

function sample(t: number, values: Partial<StatsSample> = {}): StatsSample {
  return {
    t,
    outBps: null,
    inBps: null,
    rttMs: null,
    lossPct: null,
    jitterMs: null,
    fps: null,
    audioPps: null,
    videoOutBps: null,
    pair: null,
    ...values,
  }
}

// The first poll has no rates yet; RTT, jitter and the pair come from one report alone.
const SAMPLES = [
  sample(1_000, { rttMs: 20, jitterMs: 3, pair: PAIR }),
  sample(2_000, { inBps: 512_000, outBps: 480_000, rttMs: 21, lossPct: 0, jitterMs: 3.5, fps: 15, pair: PAIR }),
  sample(3_000, { inBps: 498_000, rttMs: 22, lossPct: 1.25, jitterMs: 4, fps: 14, pair: PAIR }),
]

function pointsByMetric(): Record<string, string | null> {
  return Object.fromEntries(screen.getAllByTestId('stats-chart').map((chart) => [chart.dataset.metric, chart.dataset.points ?? null]))
}

afterEach(() => {
  cleanup()
  vi.restoreAllMocks()
  plots.created.length = 0
})

describe('StatsCharts without a canvas (jsdom)', () => {
  beforeEach(() => {
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null)
  })

  it('renders one chart per metric, each counting the samples that have a value', () => {
    render(<StatsCharts peerId="bob" samples={SAMPLES} />)

    expect(pointsByMetric()).toEqual({ bitrate: '2', rtt: '3', loss: '2', jitter: '3', fps: '2' })
    expect(screen.getByRole('region', { name: 'Connection stats for bob' })).toBeTruthy()
    expect(plots.created).toEqual([])
  })

  it('shows the latest numbers and the selected pair, and updates them as samples arrive', () => {
    const { rerender } = render(<StatsCharts peerId="bob" samples={SAMPLES} />)
    const latest = () => screen.getByTestId('stats-latest').textContent
    expect(latest()).toBe('in 498 kbit/s · out – kbit/s · RTT 22 ms · loss 1.3 % · jitter 4.0 ms · 14 fps · host ↔ host · udp')

    const relayed = { localType: 'relay', remoteType: 'srflx', protocol: 'tcp', localAddress: '203.0.113.9:443' }
    const next = sample(4_000, { inBps: 1_024_000, outBps: 2_000, rttMs: 80, lossPct: 0, jitterMs: 9, fps: 30, pair: relayed })
    rerender(<StatsCharts peerId="bob" samples={[...SAMPLES, next]} />)

    expect(latest()).toBe('in 1024 kbit/s · out 2 kbit/s · RTT 80 ms · loss 0.0 % · jitter 9.0 ms · 30 fps · relay ↔ srflx · tcp')
    expect(screen.getByTestId('stats-pair').title).toBe('203.0.113.9:443 ↔ ?')
    expect(pointsByMetric()).toEqual({ bitrate: '3', rtt: '4', loss: '3', jitter: '4', fps: '3' })
  })

  it('renders the wrappers with dashes and no pair before any sample', () => {
    render(<StatsCharts peerId="carol" samples={[]} />)

    expect(Object.values(pointsByMetric())).toEqual(['0', '0', '0', '0', '0'])
    expect(screen.getByTestId('stats-pair').textContent).toBe('no candidate pair')
    expect(screen.getByTestId('stats-latest').textContent).toContain('RTT – ms')
  })
})

describe('StatsCharts with a canvas', () => {
  beforeEach(() => {
    // Any context will do: the fake plot never draws.
    const context = {} as CanvasRenderingContext2D
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(context)
  })

  it('creates each plot once, feeds new samples with setData, and destroys the plots on unmount', async () => {
    const { rerender, unmount } = render(<StatsCharts peerId="bob" samples={SAMPLES} />)
    await waitFor(() => expect(plots.created).toHaveLength(5))
    const [bitrate] = plots.created
    expect(bitrate.data.at(-1)).toEqual([
      [1, 2, 3],
      [null, 512, 498],
      [null, 480, null],
    ])

    rerender(<StatsCharts peerId="bob" samples={[...SAMPLES]} />)
    const fed = bitrate.data.length
    rerender(<StatsCharts peerId="bob" samples={[...SAMPLES, sample(4_000, { inBps: 600_000, fps: 15 })]} />)

    expect(plots.created).toHaveLength(5)
    expect(bitrate.data).toHaveLength(fed + 1)
    expect(bitrate.data.at(-1)?.[1]).toEqual([null, 512, 498, 600])
    unmount()
    expect(plots.created.every((plot) => plot.destroyed)).toBe(true)
  })
})
