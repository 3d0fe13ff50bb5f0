// A Stryker reporter that draws the seeded random sample of mutants for
// `npm run mutate:kit` and records their outcomes.
//
// Stryker calls onMutationTestingPlanReady with every mutant it generated
// before it runs any of them; the sample is drawn there from that exact
// list, so the ids run-kit.mjs sees are Stryker's own. The population is
// sorted by (file, position, mutator, replacement) and shuffled with a
// seeded PRNG: the same sources and seed give the same sample.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { relative } from 'node:path'
import { declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin'

/** mulberry32: a small, well-known 32-bit seeded PRNG. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function describe(m) {
  // Stryker's locations are 0-based; people and editors count from 1.
  const { start, end } = m.location
  return {
    id: m.id,
    file: relative(process.cwd(), m.fileName),
    line: start.line + 1,
    column: start.column + 1,
    end: `${end.line + 1}:${end.column + 1}`,
    mutator: m.mutatorName,
    replacement: m.replacement,
  }
}

function order(a, b) {
  return (
    a.file.localeCompare(b.file) ||
    a.line - b.line ||
    a.column - b.column ||
    a.end.localeCompare(b.end) ||
    a.mutator.localeCompare(b.mutator) ||
    a.replacement.localeCompare(b.replacement)
  )
}

export function drawSample(population, size, seed) {
  const pool = [...population].sort(order)
  const next = prng(seed)
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[pool[i], pool[j]] = [pool[j], pool[i]]
  }
  return pool.slice(0, size).sort(order)
}

class KitSampleReporter {
  static inject = []
  sampled = new Set()

  onMutationTestingPlanReady({ mutantPlans }) {
    // A rerun (--rerun-survivors) records only the mutants it runs again.
    const only = process.env.MUTATE_KIT_ONLY ? new Set(readFileSync(process.env.MUTATE_KIT_ONLY, 'utf8').split('\n')) : null
    const population = mutantPlans.map((p) => describe(p.mutant))
    const seed = Number(process.env.MUTATE_KIT_SEED)
    const size = Number(process.env.MUTATE_KIT_SIZE)
    const mutants = drawSample(population, size, seed)
    for (const m of mutants) if (only === null || only.has(m.id)) this.sampled.add(m.id)
    // Written synchronously: run-kit.mjs reads it for the first mutant run.
    writeFileSync(
      process.env.MUTATE_KIT_SAMPLE,
      `${JSON.stringify({ seed, size, population: population.length, mutants }, null, 1)}\n`,
    )
    writeFileSync(process.env.MUTATE_KIT_POPULATION, `${JSON.stringify(population.sort(order), null, 1)}\n`)
  }

  onMutantTested(result) {
    if (!this.sampled.has(result.id)) return
    appendFileSync(process.env.MUTATE_KIT_RESULTS, `${JSON.stringify({ id: result.id, status: result.status })}\n`)
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'kit-sample', KitSampleReporter)]
