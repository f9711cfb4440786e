/**
 * Progress of a long CLI step (hashing, uploading) on stderr. On a terminal: one bar,
 * redrawn at most every 100 ms. Without one (a CI log): a line at every 10% and at
 * least every 10 s, so a job never looks hung and its log stays short.
 */

export interface Progress {
  /** start a new step; its rate is measured from here */
  phase(name: string): void
  update(done: number): void
  done(): void
}

export function progressBar(total: number, out: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  const tty = out.isTTY === true
  let label = ''
  let started = now()
  let lastDraw = 0
  let lastLine = 0
  let lastDecile = -1
  const rate = (done: number, t: number) => `${(done / 1e6 / Math.max(0.001, (t - started) / 1000)).toFixed(1)} MB/s`
  const render = (done: number) => {
    const t = now()
    const frac = total === 0 ? 1 : Math.min(1, done / total)
    if (tty) {
      if (t - lastDraw < 100 && done < total) return
      lastDraw = t
      const width = 30
      const filled = Math.round(frac * width)
      out.write(`\r${label.padEnd(10)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(1).padStart(5)}%  ${rate(done, t)} `)
      return
    }
    const decile = Math.floor(frac * 10)
    if (decile === lastDecile && t - lastLine < 10_000) return
    lastDecile = decile
    lastLine = t
    out.write(`${label} ${(frac * 100).toFixed(0)}% (${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB, ${rate(done, t)})\n`)
  }
  return {
    phase(name: string) {
      label = name
      started = now()
      lastDecile = -1
      render(0)
    },
    update: render,
    done() {
      if (tty) out.write('\n')
    },
  }
}
