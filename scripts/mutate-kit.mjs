// `npm run mutate:kit -- [--sample N] [--seed S] [--concurrency C] [--summary-only]`
//
// Mutation score of the reference server's session core and store under the
// conformance kit alone (docs/mutation-testing.md). Runs StrykerJS with
// scripts/mutate-kit/stryker.config.mjs; a seeded random sample of the
// mutants of src/session and src/server/store is tested, the rest skipped.
// Writes reports/mutation-kit/{sample,population,summary}.json and prints
// the score: killed / (sampled - equivalent), equivalents from
// scripts/mutate-kit/triage.json.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    sample: { type: 'string', default: '200' },
    seed: { type: 'string', default: '20261205' },
    concurrency: { type: 'string', default: '2' },
    'summary-only': { type: 'boolean', default: false },
    'rerun-survivors': { type: 'boolean', default: false },
  },
})
const out = resolve('reports/mutation-kit')
const files = {
  sample: `${out}/sample.json`,
  population: `${out}/population.json`,
  results: `${out}/results.jsonl`,
  log: `${out}/kit-runs.jsonl`,
  summary: `${out}/summary.json`,
}
const key = (m) => `${m.file}:${m.line}:${m.column} ${m.mutator} ${m.replacement}`

if (!values['summary-only']) {
  mkdirSync(out, { recursive: true })
  const env = {}
  if (values['rerun-survivors']) {
    // Same sources and seed give the same sample and ids; only the survivors
    // of the last run (and the mutants it left undetermined or never reached)
    // are run again, and their new outcome replaces the old.
    const last = JSON.parse(readFileSync(files.summary, 'utf8'))
    env.MUTATE_KIT_ONLY = `${out}/only.txt`
    writeFileSync(env.MUTATE_KIT_ONLY, `${last.mutants.filter((m) => m.status === 'Survived' || m.status === 'Undetermined' || m.status === 'NotRun').map((m) => m.id).join('\n')}\n`)
  } else for (const f of [files.results, files.log]) rmSync(f, { force: true })
  const started = Date.now()
  const run = spawnSync(
    process.execPath,
    ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', 'scripts/mutate-kit/stryker.config.mjs'],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        MUTATE_KIT_SEED: values.seed,
        MUTATE_KIT_SIZE: values.sample,
        MUTATE_KIT_CONCURRENCY: values.concurrency,
        MUTATE_KIT_SAMPLE: files.sample,
        MUTATE_KIT_POPULATION: files.population,
        MUTATE_KIT_RESULTS: files.results,
        MUTATE_KIT_LOG: files.log,
        ...env,
      },
    },
  )
  const wall = `${out}/wall-time.json`
  const before = values['rerun-survivors'] && existsSync(wall) ? JSON.parse(readFileSync(wall, 'utf8')).ms : 0
  writeFileSync(wall, `${JSON.stringify({ ms: before + Date.now() - started })}\n`)
  if (run.status !== 0) {
    process.stderr.write(`stryker exited with ${run.status}\n`)
    process.exit(2)
  }
}

const sample = JSON.parse(readFileSync(files.sample, 'utf8'))
const status = new Map(
  readFileSync(files.results, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .map((r) => [r.id, r.status]),
)
const runs = new Map(
  (existsSync(files.log) ? readFileSync(files.log, 'utf8') : '')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.id !== null)
    .map((r) => [r.id, r]),
)
const triage = JSON.parse(readFileSync('scripts/mutate-kit/triage.json', 'utf8'))
/**
 * A survivor whose only evidence is a fail-fast run stopped by a failure that
 * did not repeat alone (the first version of run-kit.mjs counted it as a pass)
 * has not been judged: it counts as not run until --rerun-survivors runs it.
 */
const undetermined = (id) => {
  const r = runs.get(id)
  return r !== undefined && r.verdict === 'survived' && 'firstFailure' in r && r.firstFailure !== null
}
const rows = sample.mutants.map((m) => ({
  ...m,
  status: status.get(m.id) === 'Survived' && undetermined(m.id) ? 'Undetermined' : (status.get(m.id) ?? 'NotRun'),
  caughtBy: runs.get(m.id)?.caughtBy ?? runs.get(m.id)?.firstFailure ?? null,
  triage: triage[key(m)] ?? null,
}))
// Stryker's Timeout means the kit did not finish: the server hung, which the
// kit's case timeouts report as failures, so it counts as detected.
const detected = rows.filter((r) => r.status === 'Killed' || r.status === 'Timeout')
const survivors = rows.filter((r) => r.status === 'Survived')
const equivalent = survivors.filter((r) => r.triage?.verdict === 'equivalent')
const notRun = rows.filter((r) => !['Killed', 'Timeout', 'Survived'].includes(r.status)) // NotRun, Undetermined
const denominator = rows.length - equivalent.length - notRun.length
const summary = {
  seed: sample.seed,
  population: sample.population,
  sampled: rows.length,
  killed: detected.length,
  survived: survivors.length,
  equivalent: equivalent.length,
  notRun: notRun.length,
  score: denominator > 0 ? detected.length / denominator : null,
  wallTimeMs: existsSync(`${out}/wall-time.json`) ? JSON.parse(readFileSync(`${out}/wall-time.json`, 'utf8')).ms : null,
  survivors: survivors.map((r) => ({ key: key(r), ...(r.triage ?? { verdict: 'untriaged' }) })),
  mutants: rows,
}
writeFileSync(files.summary, `${JSON.stringify(summary, null, 1)}\n`)
process.stdout.write(
  `mutants: ${sample.population} in src/session + src/server/store; sample ${rows.length} (seed ${sample.seed})\n` +
    `killed ${detected.length}, survived ${survivors.length} (equivalent ${equivalent.length}), not run or undetermined ${notRun.length}\n` +
    `score: ${summary.score === null ? 'n/a' : `${(summary.score * 100).toFixed(1)} %`} = killed / (sampled - equivalent${notRun.length ? ' - not run' : ''})\n`,
)
for (const s of summary.survivors) process.stdout.write(`  survived: ${s.key} — ${s.verdict}${s.reason ? `: ${s.reason}` : ''}\n`)
