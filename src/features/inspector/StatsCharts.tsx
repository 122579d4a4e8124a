import type { TFunction } from 'i18next'
import { useEffect, useMemo, useRef } from 'react'
import { useTranslation } from 'react-i18next'
import type uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { StatsSample } from '../../../machines/inspect/stats'
import './stats.css'

type Metric = 'bitrate' | 'rtt' | 'loss' | 'jitter' | 'fps'

/** `legend`: the series' name, where a chart has more than one; else the chart's title names it. */
type SeriesSpec = { legend?: 'in' | 'out'; value: (sample: StatsSample) => number | null }

/** Units are symbols, the same in every language, but for frames per second. */
type MetricSpec = { metric: Metric; unit: 'kbit/s' | 'ms' | '%' | 'fps'; series: SeriesSpec[] }

const kbps = (bps: number | null) => (bps === null ? null : bps / 1000)

const METRICS: MetricSpec[] = [
  {
    metric: 'bitrate',
    unit: 'kbit/s',
    series: [
      { legend: 'in', value: (s) => kbps(s.inBps) },
      { legend: 'out', value: (s) => kbps(s.outBps) },
    ],
  },
  { metric: 'rtt', unit: 'ms', series: [{ value: (s) => s.rttMs }] },
  { metric: 'loss', unit: '%', series: [{ value: (s) => s.lossPct }] },
  { metric: 'jitter', unit: 'ms', series: [{ value: (s) => s.jitterMs }] },
  { metric: 'fps', unit: 'fps', series: [{ value: (s) => s.fps }] },
]

const titleOf = (t: TFunction, spec: MetricSpec) => t(`inspector.stats.${spec.metric}`)
const unitOf = (t: TFunction, spec: MetricSpec) => (spec.unit === 'fps' ? t('inspector.stats.fpsUnit') : spec.unit)
const seriesLabel = (t: TFunction, spec: MetricSpec, series: SeriesSpec) =>
  series.legend ? t(`inspector.stats.${series.legend}`) : titleOf(t, spec)

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
  const { t } = useTranslation()
  // Callers often pass a fresh array each render. Samples only ever arrive at
  // the end and leave from the start, so these three numbers say when they changed.
  const signature = `${samples.length}:${samples[0]?.t}:${samples.at(-1)?.t}`
  // eslint-disable-next-line react-hooks/exhaustive-deps -- keyed by the signature on purpose
  const stable = useMemo(() => samples, [signature])
  const latest = stable.at(-1) ?? null
  const pair = latest?.pair ?? null

  return (
    <section className="stats-charts" aria-label={t('inspector.stats.connection', { peer: peerId })} data-peer-id={peerId}>
      <div className="stats-charts-grid">
        {METRICS.map((spec) => (
          <MetricChart key={spec.metric} spec={spec} samples={stable} />
        ))}
      </div>
      <p className="stats-charts-latest" data-testid="stats-latest">
        {latestNumbers(t, latest)}
        {' · '}
        <span className="stats-charts-pair" data-testid="stats-pair" title={addresses(pair)}>
          {pairText(t, pair)}
        </span>
      </p>
    </section>
  )
}

function MetricChart({ spec, samples }: { spec: MetricSpec; samples: readonly StatsSample[] }) {
  const { t } = useTranslation()
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
      const chart = new UPlot(chartOptions(spec, element, t), latestData.current, element)
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
  }, [spec, t])

  useEffect(() => {
    latestData.current = data
    plot.current?.setData(data)
  }, [data])

  return (
    <figure className="stats-chart" data-testid="stats-chart" data-metric={spec.metric} data-points={points}>
      <figcaption>
        {titleOf(t, spec)} <span className="unit">{unitOf(t, spec)}</span>
        {spec.series.length > 1 &&
          spec.series.map((series, index) => (
            <span key={index} className={`legend series-${index + 1}`}>
              {seriesLabel(t, spec, series)}
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

function chartOptions(spec: MetricSpec, element: HTMLElement, t: TFunction): uPlot.Options {
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
        label: seriesLabel(t, spec, series),
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

function latestNumbers(t: TFunction, sample: StatsSample | null): string {
  const { inBps, outBps, rttMs, lossPct, jitterMs, fps } = sample ?? NO_SAMPLE
  return [
    t('inspector.stats.latestIn', { value: format(kbps(inBps), 0) }),
    t('inspector.stats.latestOut', { value: format(kbps(outBps), 0) }),
    t('inspector.stats.latestRtt', { value: format(rttMs, 0) }),
    t('inspector.stats.latestLoss', { value: format(lossPct, 1) }),
    t('inspector.stats.latestJitter', { value: format(jitterMs, 1) }),
    t('inspector.stats.latestFps', { value: format(fps, 0) }),
  ].join(' · ')
}

function format(value: number | null, digits: number): string {
  return value === null ? '–' : value.toFixed(digits)
}

function pairText(t: TFunction, pair: StatsSample['pair']): string {
  return pair ? `${pair.localType} ↔ ${pair.remoteType} · ${pair.protocol}` : t('inspector.stats.noPair')
}

function addresses(pair: StatsSample['pair']): string | undefined {
  if (!pair?.localAddress && !pair?.remoteAddress) return undefined
  return `${pair.localAddress ?? '?'} ↔ ${pair.remoteAddress ?? '?'}`
}
