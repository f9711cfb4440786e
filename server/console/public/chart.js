// Failure rate over time with its Wilson band and the gate's limit, as inline SVG.
import { html, pct } from './lib.js'

export function FailureChart({ series }) {
  const { points, maxFailureRate, confidence } = series
  const W = 640
  const H = 200
  const P = 36
  if (!points.length) return html`<p>No decided devices yet: the chart starts with the first healthy or failed report.</p>`
  const t0 = Date.parse(points[0].at)
  const t1 = Math.max(t0 + 1000, Date.parse(points[points.length - 1].at))
  const x = (at) => P + ((Date.parse(at) - t0) / (t1 - t0)) * (W - 2 * P)
  const y = (v) => H - P + -v * (H - 2 * P)
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ')
  const band = [...points.map((p) => `${x(p.at).toFixed(1)},${y(p.upper).toFixed(1)}`), ...[...points].reverse().map((p) => `${x(p.at).toFixed(1)},${y(p.lower).toFixed(1)}`)].join(' ')
  const last = points[points.length - 1]
  const desc = `Failure rate ${pct(last.rate)} (${last.failed} of ${last.failed + last.healthy}), ${Math.round(confidence * 100)}% band ${pct(last.lower)} to ${pct(last.upper)}, limit ${pct(maxFailureRate)}`
  return html`<figure class="chart">
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${desc}>
      <polygon class="band" points=${band} />
      <line class="limit" x1=${P} x2=${W - P} y1=${y(Math.min(1, maxFailureRate))} y2=${y(Math.min(1, maxFailureRate))} />
      <path class="rate" d=${line} />
      <line class="axis" x1=${P} x2=${P} y1=${y(0)} y2=${y(1)} />
      <line class="axis" x1=${P} x2=${W - P} y1=${y(0)} y2=${y(0)} />
      <text x=${P - 4} y=${y(0)} text-anchor="end">0%</text>
      <text x=${P - 4} y=${y(0.5)} text-anchor="end">50%</text>
      <text x=${P - 4} y=${y(1) + 8} text-anchor="end">100%</text>
      <text x=${W - P} y=${y(Math.min(1, maxFailureRate)) - 4} text-anchor="end" class="limit-label">limit ${pct(maxFailureRate)}</text>
    </svg>
    <figcaption>${desc}</figcaption>
  </figure>`
}
