// Protocol time bounds, checked as written. --time-scale stretches the
// harness's own waiting (withinMs, budgets), never a bound the spec sets
// ([HS-8] 10 s, [HB-2] 1.5x-2x heartbeat). A bound is checked with
// TIMER_TOLERANCE_MS of slack for timer granularity; when the runner itself
// lagged more than that in the measured window, a result that the lag could
// have produced (a late observation, or a pass the lag made possible) is
// neither pass nor fail: inconclusive.

/**
 * Slack on every protocol bound: servers and the runner schedule timers with
 * a few ms of jitter (libuv rounds to 1 ms, a busy loop adds more). 50 ms is
 * 5% of the shortest heartbeat (1000 ms), so a 1.42x idle close still fails
 * the 1.5x lower bound.
 */
export const TIMER_TOLERANCE_MS = 50

export interface Bound {
  /** The protocol's lower bound: the event must not come earlier (ms from the reference). */
  notBeforeMs?: number
  /** The protocol's upper bound: the event must come before this (ms from the reference). */
  beforeMs?: number
}

export type BoundVerdict = { verdict: 'pass' } | { verdict: 'fail' | 'inconclusive'; why: string }

/**
 * Judges an event observed `observedMs` after its reference while the runner
 * lagged up to `lagMs`: the true time is within [observed - lag, observed +
 * lag] (a stall delays what the runner sees, and may have delayed the moment
 * it noted the reference).
 */
export function judgeBound(bound: Bound, observedMs: number, lagMs: number): BoundVerdict {
  const tooEarly = (x: number) => bound.notBeforeMs !== undefined && x < bound.notBeforeMs - TIMER_TOLERANCE_MS
  const tooLate = (x: number) => bound.beforeMs !== undefined && x > bound.beforeMs + TIMER_TOLERANCE_MS
  const bad = (x: number) => tooEarly(x) || tooLate(x)
  const what = (x: number) =>
    tooEarly(x)
      ? `earlier than the ${bound.notBeforeMs} ms lower bound`
      : `later than the ${bound.beforeMs} ms upper bound`
  const obs = Math.round(observedMs)
  if (lagMs <= TIMER_TOLERANCE_MS)
    return bad(observedMs) ? { verdict: 'fail', why: `after ${obs} ms, ${what(observedMs)}` } : { verdict: 'pass' }
  const lo = observedMs - lagMs
  const hi = observedMs + lagMs
  if (bad(lo) && bad(hi) && tooEarly(lo) === tooEarly(hi))
    return { verdict: 'fail', why: `after ${obs} ms, ${what(observedMs)} even allowing for ${lagMs} ms of runner lag` }
  if (!bad(lo) && !bad(hi)) return { verdict: 'pass' }
  return {
    verdict: 'inconclusive',
    why: `runner lagged ${lagMs} ms: observed after ${obs} ms, the bound [${bound.notBeforeMs ?? 0}, ${bound.beforeMs ?? '∞'}] ms ± ${TIMER_TOLERANCE_MS} cannot be judged`,
  }
}
