// Stryker's test command for `npm run mutate:kit` (the `command` test runner
// runs it in the sandbox, once per mutant, with __STRYKER_ACTIVE_MUTANT__ set).
// The only test is the conformance kit against the reference server built
// from the sandbox: exit 0 = the kit passed (mutant survived), 1 = killed.
//
// - A mutant outside the seeded sample exits 0 at once; the summary never
//   counts it (Stryker lists every mutant; the sample is drawn in
//   sample-reporter.mjs before any mutant runs).
// - Mutants of memory-tables.ts run against `serve --memory` (the bundled
//   server uses SQLite, so they would be unreachable otherwise); restart
//   cases are skipped there, as nothing survives a restart of that store.
// - Fail-fast: the run stops starting cases at the first failure
//   (--max-failures 1; failures are read from its TAP report, as the console
//   reporter prints no line per case when stdout is not a terminal). That case
//   is then run once more alone; only a failure that repeats counts as a kill, so a case
//   that is flaky on a loaded machine does not inflate the score. When it does
//   not repeat, the suite runs whole (a flaky abort is not a pass either) and
//   each of its failures is run alone until one repeats.
import { spawn } from 'node:child_process'
import { appendFileSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'

const id = process.env.__STRYKER_ACTIVE_MUTANT__
const sampleFile = process.env.MUTATE_KIT_SAMPLE
const logFile = process.env.MUTATE_KIT_LOG
const jobs = process.env.MUTATE_KIT_JOBS ?? '12'
const timeScale = process.env.MUTATE_KIT_TIME_SCALE ?? '1.5'
const cli = 'dist/src/cli/main.js'

let memory = false
if (id !== undefined) {
  const sample = JSON.parse(readFileSync(sampleFile, 'utf8'))
  const entry = sample.mutants.find((m) => m.id === id)
  if (entry === undefined) process.exit(0)
  memory = entry.file.endsWith('src/server/store/memory-tables.ts')
}

/**
 * Runs the kit; resolves { code, failures } (case ids). With bail set the
 * runner starts no case after the first failure (those still running finish).
 */
function kit(extra, bail) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        cli,
        'conformance',
        '--transport',
        'tcp',
        '--strict',
        '--no-color',
        '--jobs',
        jobs,
        '--time-scale',
        timeScale,
        '--reporter',
        'tap',
        '--quiet',
        ...(bail ? ['--max-failures', '1'] : []),
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    )
    const failures = []
    // TAP test points: a failure or harness error is `not ok` without a
    // directive; expected failures and inconclusive cases carry # TODO.
    const onLine = (line) => {
      const m = /^not ok \d+ - (tcp|ws) (\S+)/.exec(line)
      if (m && !/ # TODO /.test(line) && !failures.includes(m[2])) failures.push(m[2])
    }
    createInterface({ input: child.stdout }).on('line', onLine)
    createInterface({ input: child.stderr }).on('line', onLine)
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), failures }))
  })
}

/** A `serve --memory` server of the sandbox for memory-store mutants. */
async function memoryServer() {
  const secret = randomBytes(18).toString('hex') // never a leading '-' (read as an option)
  const child = spawn(
    process.execPath,
    [cli, 'serve', '--memory', '--tcp', '127.0.0.1:0', '--ws', 'off', '--token-secret', secret, '--log-level', 'silent'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const line = await new Promise((resolve) => {
    const rl = createInterface({ input: child.stdout })
    rl.once('line', resolve)
    child.once('exit', () => resolve(null))
  })
  if (line === null) return { args: null, stop() {} }
  const { tcp } = JSON.parse(line)
  return { args: ['--target', `tcp://${tcp}`, '--token-secret', secret], stop: () => child.kill('SIGKILL') }
}

async function attempt(bail, only) {
  const server = memory ? await memoryServer() : { args: [], stop() {} }
  if (server.args === null) return { code: 3, failures: [] }
  try {
    return await kit([...server.args, ...(only ? ['--case', only] : [])], bail)
  } finally {
    server.stop()
  }
}

const started = Date.now()
let verdict = 'survived'
let caughtBy = null
const unconfirmed = []
/**
 * Confirms failing cases by running each alone until one repeats. Every
 * failure is tried: a cap (there was one, of three) let the timing cases that
 * fail on a loaded machine use up the confirmations, and a mutant whose real
 * catcher came fourth was recorded as a survivor.
 */
const confirm = async (failures) => {
  for (const f of failures) {
    if ((await attempt(false, f)).code !== 0) {
      caughtBy = f
      return true
    }
    unconfirmed.push(f)
  }
  return false
}
// Fail-fast first; a failure that does not repeat alone (a timing case on a
// loaded machine) is not a kill, and it is not a pass either: the suite is
// then run whole, and each failing case confirmed alone.
const fast = await attempt(id !== undefined, null)
if (fast.code !== 0) {
  if (fast.failures.length === 0) verdict = 'killed' // unreachable or harness error: the kit refused the server
  else if (await confirm(fast.failures)) verdict = 'killed'
  else if (id !== undefined) {
    const whole = await attempt(false, null)
    const rest = whole.failures.filter((f) => !unconfirmed.includes(f))
    if (whole.code !== 0 && (whole.failures.length === 0 || (await confirm(rest)))) verdict = 'killed'
  }
}
if (logFile)
  appendFileSync(
    logFile,
    `${JSON.stringify({ id: id ?? null, verdict, caughtBy, unconfirmed, memory, ms: Date.now() - started })}\n`,
  )
process.exit(verdict === 'killed' ? 1 : 0)
