import { useEffect, useMemo, useRef } from 'react'
import type uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { StatsSample } from '../../../machines/inspect/stats'
import './stats.css'

type Metric = 'bitrate' | 'rtt' | 'loss' | 'jitter' | 'fps'

type SeriesSpec = { label: string; value: (sample: StatsSample) => number | null }

type MetricSpec = { metric: Metric; title: string; unit: string; series: SeriesSpec[] }

const kbps = (bps: number | null) => (bps === null ? null : bps / 1000)

const METRICS: MetricSpec[] = [
  {
    metric: 'bitrate',
    title: 'Bitrate',
    unit: 'kbit/s',
    series: [
      { label: 'in', value: (s) => kbps(s.inBps) },
      { label: 'out', value: (s) => kbps(s.outBps) },
    ],
  },
  { metric: 'rtt', title: 'RTT', unit: 'ms', series: [{ label: 'RTT', value: (s) => s.rttMs }] },
  { metric: 'loss', title: 'Loss', unit: '%', series: [{ label: 'loss', value: (s) => s.lossPct }] },
  { metric: 'jitter', title: 'Jitter', unit: 'ms', series: [{ label: 'jitter', value: (s) => s.jitterMs }] },
  { metric: 'fps', title: 'Frames', unit: 'fps', series: [{ label: 'fps', value: (s) => s.fps }] },
]

const CHART_HEIGHT = 100
const FALLBACK_WIDTH = 220

/**
 * Small live charts of one peer connection's stats (bitrate in and out,
 * round-trip time, loss, jitter, frame rate) and a line with the latest
 * numbers and the selected candidate pair.
 *
 * Each chart is created once and fed with `setData` as samples arrive. Where
 * there is no 2D canvas (jsdom), the charts are left out and the wrappers and
 * text still render.
 *
 * @example
 * ```tsx
 * <StatsCharts peerId="bob" samples={recorder.stats().bob ?? []} />
 * ```
 */
export function StatsCharts({ peerId, samples }: { peerId: string; samples: readonly StatsSample[] }) {
  // Callers often pass a fresh array each render. Samples only ever arrive at
  // the end and leave from the start, so these three numbers say when they changed.
  const signature = `${samples.length}:${samples[0]?.t}:${samples.at(-1)?.t}`
  // eslint-disable-next-line react-hooks/exhaustive-deps -- keyed by the signature on purpose
  const stable = useMemo(() => samples, [signature])
  const latest = stable.at(-1) ?? null
  const pair = latest?.pair ?? null

  return (
    <section className="stats-charts" aria-label={`Connection stats for ${peerId}`} data-peer-id={peerId}>
      <div className="stats-charts-grid">
        {METRICS.map((spec) => (
          <MetricChart key={spec.metric} spec={spec} samples={stable} />
        ))}
      </div>
      <p className="stats-charts-latest" data-testid="stats-latest">
        {latestNumbers(latest)}
        {' · '}
        <span className="stats-charts-pair" data-testid="stats-pair" title={addresses(pair)}>
          {pairText(pair)}
        </span>
      </p>
    </section>
  )
}

function MetricChart({ spec, samples }: { spec: MetricSpec; samples: readonly StatsSample[] }) {
  const container = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const data = useMemo(() => alignedData(spec, samples), [spec, samples])
  const latestData = useRef(data)
  const points = samples.filter((sample) => spec.series.some((series) => series.value(sample) !== null)).length

  useEffect(() => {
    const element = container.current
    if (!element || !canDraw()) return
    let cancelled = false
    let observer: ResizeObserver | undefined
    const create = (UPlot: typeof uPlot) => {
      if (cancelled) return
      const chart = new UPlot(chartOptions(spec, element), latestData.current, element)
      plot.current = chart
      if (typeof ResizeObserver !== 'undefined') {
        observer = new ResizeObserver(() => chart.setSize({ width: widthOf(element), height: CHART_HEIGHT }))
        observer.observe(element)
      }
    }
    // Should uPlot fail to load, the chart stays empty and the numbers line still shows.
    loadUPlot().then(create, () => undefined)
    return () => {
      cancelled = true
      observer?.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
  }, [spec])

  useEffect(() => {
    latestData.current = data
    plot.current?.setData(data)
  }, [data])

  return (
    <figure className="stats-chart" data-testid="stats-chart" data-metric={spec.metric} data-points={points}>
      <figcaption>
        {spec.title} <span className="unit">{spec.unit}</span>
        {spec.series.length > 1 &&
          spec.series.map((series, index) => (
            <span key={series.label} className={`legend series-${index + 1}`}>
              {series.label}
            </span>
          ))}
      </figcaption>
      <div ref={container} className="stats-chart-plot" />
    </figure>
  )
}

/** uPlot's columns: times in seconds, then one column per series, null where there is no value. */
function alignedData(spec: MetricSpec, samples: readonly StatsSample[]): uPlot.AlignedData {
  return [samples.map((sample) => sample.t / 1000), ...spec.series.map((series) => samples.map(series.value))]
}

function chartOptions(spec: MetricSpec, element: HTMLElement): uPlot.Options {
  // Colours come from stats.css at each draw, so a theme change shows at the next sample.
  const colour = (name: string) => () => getComputedStyle(element).getPropertyValue(name).trim() || 'currentColor'
  const axis: uPlot.Axis = {
    stroke: colour('--stats-axis'),
    grid: { stroke: colour('--stats-grid'), width: 1 },
    ticks: { stroke: colour('--stats-grid'), width: 1, size: 4 },
    gap: 3,
    font: '10px system-ui, sans-serif',
  }
  return {
    width: widthOf(element),
    height: CHART_HEIGHT,
    legend: { show: false },
    cursor: { y: false },
    scales: {
      x: { time: true },
      // Every metric is zero or more: start at zero, and keep a flat zero line off the top edge.
      y: { range: { min: { pad: 0, soft: 0, mode: 1 }, max: { pad: 0.1, soft: 1, mode: 1 } } },
    },
    axes: [
      { ...axis, size: 22, space: 50, values: (_, splits) => splits.map(clockTime) },
      { ...axis, size: 36, space: 16 },
    ],
    series: [
      {},
      ...spec.series.map((series, index) => ({
        label: series.label,
        stroke: colour(`--stats-series-${index + 1}`),
        width: 1.5,
        points: { show: false },
      })),
    ],
  }
}

/** One line of `mm:ss`, where uPlot's time axis would add a date line under each tick. */
function clockTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { minute: '2-digit', second: '2-digit' })
}

function widthOf(element: HTMLElement): number {
  return element.clientWidth || FALLBACK_WIDTH
}

/** uPlot draws on a 2D canvas; jsdom has none (getContext returns null). */
function canDraw(): boolean {
  try {
    return document.createElement('canvas').getContext('2d') !== null
  } catch {
    return false
  }
}

let uPlotModule: Promise<typeof uPlot> | undefined
/** Loaded on first use: uPlot touches `matchMedia` when imported, and it is only needed for drawing. */
function loadUPlot(): Promise<typeof uPlot> {
  uPlotModule ??= import('uplot').then((module) => module.default)
  return uPlotModule
}

const NO_SAMPLE: Omit<StatsSample, 't'> = {
  outBps: null,
  inBps: null,
  rttMs: null,
  lossPct: null,
  jitterMs: null,
  fps: null,
  audioPps: null,
  videoOutBps: null,
  pair: null,
}

function latestNumbers(sample: StatsSample | null): string {
  const { inBps, outBps, rttMs, lossPct, jitterMs, fps } = sample ?? NO_SAMPLE
  return [
    `in ${format(kbps(inBps), 0)} kbit/s`,
    `out ${format(kbps(outBps), 0)} kbit/s`,
    `RTT ${format(rttMs, 0)} ms`,
    `loss ${format(lossPct, 1)} %`,
    `jitter ${format(jitterMs, 1)} ms`,
    `${format(fps, 0)} fps`,
  ].join(' · ')
}

function format(value: number | null, digits: number): string {
  return value === null ? '–' : value.toFixed(digits)
}

function pairText(pair: StatsSample['pair']): string {
  return pair ? `${pair.localType} ↔ ${pair.remoteType} · ${pair.protocol}` : 'no candidate pair'
}

function addresses(pair: StatsSample['pair']): string | undefined {
  if (!pair?.localAddress && !pair?.remoteAddress) return undefined
  return `${pair.localAddress ?? '?'} ↔ ${pair.remoteAddress ?? '?'}`
}
