// How late the runner itself was: a drift probe on the runner's event loop.
// A timer asks to run every PROBE_EVERY_MS; when it runs `late` ms after it
// should have, the loop was busy (or the process was not scheduled) during
// the `late` ms before. Timing checks ask for the worst lateness in the window
// they measured: a close that arrived while the runner was stalled is
// observed late by up to that much. One probe serves every case of the
// process (cases share one event loop).

const PROBE_EVERY_MS = 10
/** Lateness below this is timer jitter, not worth a sample. */
const RECORD_ABOVE_MS = 2
/** Samples kept: a few minutes of a badly lagging loop. */
const MAX_SAMPLES = 20_000

interface Sample {
  /** performance.now() when the late tick ran */
  at: number
  late: number
}

class LagProbe {
  private samples: Sample[] = []
  private timer: NodeJS.Timeout | null = null
  private users = 0
  private expected = 0

  acquire(): void {
    if (this.users++ > 0) return
    this.expected = performance.now() + PROBE_EVERY_MS
    this.timer = setInterval(() => this.tick(), PROBE_EVERY_MS)
    this.timer.unref()
  }

  release(): void {
    if (--this.users > 0) return
    this.users = 0
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private tick(): void {
    const now = performance.now()
    const late = now - this.expected
    this.expected = now + PROBE_EVERY_MS
    if (late > RECORD_ABOVE_MS) {
      this.samples.push({ at: now, late })
      if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, MAX_SAMPLES / 2)
    }
  }

  /** Worst lateness of the loop overlapping [from, to] (performance.now() times), in ms. */
  maxLag(from: number, to: number = performance.now()): number {
    let worst = 0
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i] as Sample
      if (s.at < from) break
      if (s.at - s.late <= to) worst = Math.max(worst, s.late)
    }
    // A stall that just ended may not have been sampled yet.
    if (this.timer !== null) worst = Math.max(worst, to - this.expected)
    return Math.max(0, Math.round(worst))
  }
}

export const lagProbe = new LagProbe()
