#!/usr/bin/env node
// `npm test`: every check CI runs, in order, with one closing line
// `N passed, N failed`. Each static check counts as one result; tap
// contributes its own counts (from its closing `# { total, pass, fail }`).
// Later checks still run after a failure so one run shows everything.
//
// Loaded machines: IMWIRE_TIME_SCALE (default 1) stretches every deadline in
// the tests (test/support/time-scale.ts) and tap's per-file timeout. Every
// Node process of the run exits when its parent dies
// (test/support/exit-with-parent.mjs via NODE_OPTIONS), and any process of
// this run still alive after tap is killed and fails the run.
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'

const scale = Number(process.env.IMWIRE_TIME_SCALE || '1')
if (!(scale > 0 && scale <= 100)) {
  console.error(`IMWIRE_TIME_SCALE=${process.env.IMWIRE_TIME_SCALE}: expected a number in (0, 100]`)
  process.exit(2)
}
// Per test file. The slowest file (the broken-server self-test) takes ~3 min
// alone and twice that beside a second full run on 2 cores.
const TAP_TIMEOUT_S = Math.round(600 * scale)
const RUN_ID = randomUUID()
const exitWithParent = new URL('../test/support/exit-with-parent.mjs', import.meta.url).href
const tapEnv = {
  ...process.env,
  IMWIRE_TEST_RUN: RUN_ID,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${exitWithParent}`.trim(),
}

const checks = [
  // Type checks the whole tree and builds it into dist/ (tests included: test
  // servers are spawned from built JavaScript).
  ['typecheck and build:test', 'npm', ['run', '-s', 'build:test']],
  ['lint', 'npm', ['run', '-s', 'lint']],
  ['buf lint', 'npm', ['run', '-s', 'buf:lint']],
  ['buf breaking', 'npm', ['run', '-s', 'buf:breaking']],
  ['build', 'npm', ['run', '-s', 'build']],
  ['vectors lint', 'node', ['dist/src/cli/main.js', 'vectors', 'lint']],
  ['requirement coverage', 'node', ['dist/src/cli/main.js', 'conformance', 'coverage']],
  ['tap', 'npx', ['--no-install', 'tap', `--timeout=${TAP_TIMEOUT_S}`], tapEnv],
  ['no process outlives the run', 'sweep'],
  ['code coverage', 'node', ['scripts/check-coverage.mjs']],
]

/** Processes (other than this one) that carry this run's IMWIRE_TEST_RUN. */
function leftovers() {
  const out = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`IMWIRE_TEST_RUN=${RUN_ID}`)) {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim()
        out.push({ pid: Number(pid), cmd })
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return out
}

/** Waits for this run's processes to go (they exit with their parents), kills the rest; ok when none was left. */
function sweep() {
  const deadline = Date.now() + 10_000 * scale
  let left = leftovers()
  while (left.length > 0 && Date.now() < deadline) {
    spawnSync('sleep', ['0.5'])
    left = leftovers()
  }
  for (const p of left) {
    process.stdout.write(`still running after the run, killed: ${p.pid} ${p.cmd.slice(0, 200)}\n`)
    try {
      process.kill(p.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  return left.length === 0
}

// An interrupted `npm test` (Ctrl-C) stops this run's processes too.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const p of leftovers()) {
      try {
        process.kill(p.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    process.exit(130)
  })
}

let passed = 0
let failed = 0
const failures = []
for (const [name, cmd, args = [], env = process.env] of checks) {
  process.stdout.write(`\n=== ${name}: ${cmd} ${args.join(' ')}\n`)
  const started = Date.now()
  const res =
    cmd === 'sweep'
      ? { status: sweep() ? 0 : 1, stdout: '' }
      : spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28, env })
  process.stdout.write(res.stdout ?? '')
  const ok = res.status === 0
  if (name === 'tap') {
    // tap's closing summary, e.g. `# { total: 120, pass: 118, fail: 2 }`
    const m = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(res.stdout ?? '')
    if (m) {
      const pass = Number(m[2])
      const fail = Number(m[3] ?? 0)
      passed += pass
      failed += fail
      // tap exiting non-zero with no failing assertion (e.g. a crashed file)
      if (!ok && fail === 0) failed += 1
    } else {
      failed += 1
    }
  } else if (ok) passed += 1
  else failed += 1
  if (!ok) failures.push(name)
  process.stdout.write(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${res.status})`} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`)
}
if (failures.length > 0) process.stdout.write(`\nfailed checks: ${failures.join(', ')}\n`)
const line = `${passed} passed, ${failed} failed`
mkdirSync('.tap', { recursive: true })
writeFileSync('.tap/summary.txt', `${line}\n`)
process.stdout.write(`${line}\n`)
process.exit(failed === 0 && failures.length === 0 ? 0 : 1)
