// One knob for every deadline in the tests: IMWIRE_TIME_SCALE (default 1).
// Startup waits, scenario budgets (passed to the runner as its timeScale),
// settle times and tap's per-file timeout (scripts/test-all.mjs) are
// multiplied by it, so a slow or shared CI machine sets one variable
// (`.ci/run` does) instead of editing tests.
function readScale(): number {
  const raw = process.env.IMWIRE_TIME_SCALE
  if (raw === undefined || raw === '') return 1
  const f = Number(raw)
  if (!(f > 0 && f <= 100)) throw new Error(`IMWIRE_TIME_SCALE=${raw}: expected a number in (0, 100]`)
  return f
}

export const TIME_SCALE = readScale()

/** `ms` stretched by IMWIRE_TIME_SCALE. */
export function scaled(ms: number): number {
  return Math.round(ms * TIME_SCALE)
}
