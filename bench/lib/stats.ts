// Latency samples and the printed table.

/** Latency samples in microseconds, appended without allocation per sample. */
export class Samples {
  private buf: Float64Array
  private n = 0

  constructor(capacity = 1 << 16) {
    this.buf = new Float64Array(capacity)
  }

  add(us: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2)
      bigger.set(this.buf)
      this.buf = bigger
    }
    this.buf[this.n++] = us
  }

  get count(): number {
    return this.n
  }

  /** The samples, sorted (a copy). */
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort()
  }

  /** p in [0, 100]; nearest-rank on the sorted samples. */
  percentiles(ps: number[]): number[] {
    if (this.n === 0) return ps.map(() => Number.NaN)
    const sorted = this.buf.slice(0, this.n).sort()
    return ps.map((p) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))] as number)
  }
}

export interface Row {
  [column: string]: string
}

/** A plain aligned text table (also valid-ish Markdown). */
export function formatTable(columns: string[], rows: Row[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  const out = [line(columns), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`]
  for (const r of rows) out.push(line(columns.map((c) => r[c] ?? '')))
  return out.join('\n')
}

export function fmtRate(perSec: number): string {
  if (!Number.isFinite(perSec)) return '-'
  return Math.round(perSec).toLocaleString('en-US')
}

export function fmtMs(us: number): string {
  if (!Number.isFinite(us)) return '-'
  return (us / 1000).toFixed(us < 10_000 ? 2 : 1)
}

/** Monotonic microseconds. */
export function nowUs(): number {
  return performance.now() * 1000
}
