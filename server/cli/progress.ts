/** A one-line progress bar on stderr when it is a terminal; silent otherwise (CI logs). */

export function progressBar(total: number) {
  const tty = process.stderr.isTTY === true
  const started = Date.now()
  let label = ''
  let last = 0
  const render = (done: number) => {
    if (!tty) return
    const now = Date.now()
    if (now - last < 100 && done < total) return
    last = now
    const frac = total === 0 ? 1 : done / total
    const width = 30
    const filled = Math.round(frac * width)
    const mbps = done / 1e6 / Math.max(0.001, (now - started) / 1000)
    process.stderr.write(`\r${label.padEnd(10)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(1).padStart(5)}%  ${mbps.toFixed(1)} MB/s `)
  }
  return {
    phase(name: string) {
      label = name
      render(0)
    },
    update: render,
    done() {
      if (tty) process.stderr.write('\n')
    },
  }
}
