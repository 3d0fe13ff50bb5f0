// Order of the parallel pool: longest cases first (LPT scheduling), so the
// few cases that wait for server timers (handshake timeout, idle timeout)
// start at once instead of stretching the end of the run.
import type { Scenario, Step } from '../load/scenario-types.js'

/** Milliseconds the scenario spends waiting by construction (sleeps, silences, windows). */
export function expectedWaitMs(steps: Step[]): number {
  let total = 0
  for (const step of steps) {
    if (typeof step.sleep === 'number') total += step.sleep
    if (typeof step.forMs === 'number') total += step.forMs
    if (typeof step.notBeforeMs === 'number') total += step.notBeforeMs
    if (Array.isArray(step.steps)) {
      const n = typeof step.repeat === 'number' ? step.repeat : 1
      total += n * expectedWaitMs(step.steps as Step[])
    }
    if (Array.isArray(step.parallel)) total += Math.max(0, ...(step.parallel as Step[][]).map(expectedWaitMs))
  }
  return total
}

/** Larger first: waits by construction, then the scenario's own budget (handshake-timeout cases set a large one). */
export function longestFirst<T extends { scenario: Scenario }>(jobs: T[]): T[] {
  const key = (s: Scenario) => Math.max(expectedWaitMs(s.steps), s.timeoutMs > 10_000 ? s.timeoutMs * 0.75 : 0)
  return [...jobs].sort((a, b) => key(b.scenario) - key(a.scenario))
}
