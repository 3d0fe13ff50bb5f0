// Protocol time bounds are checked as written: --time-scale stretches the
// harness's waits, never [HS-8]'s 10 s cap or [HB-2]'s 1.5x-2x window; a
// runner that lagged itself says "inconclusive" instead of blaming the server.
import t from 'tap'
import type { CaseResult } from '../engine/case-types.js'
import { runSuite } from '../engine/run-suite.js'
import { judgeBound, TIMER_TOLERANCE_MS } from '../engine/timing.js'
import { SECRET, withFakeServer } from './helpers.js'

const verdictOf = (cases: CaseResult[], id: string) => {
  const c = cases.find((x) => x.id === id)
  return `${c?.verdict ?? 'missing'}: ${c?.failure?.message ?? c?.reason ?? ''}`
}

t.test('at --time-scale 3 a 12 s handshake timeout fails [HS-8]', async (t) => {
  const report = await withFakeServer(['handshake-timeout-12s'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      transports: ['tcp'],
      timeScale: 3,
      cases: ['handshake.timeout-without-hello'],
    }),
  )
  t.match(verdictOf(report.cases, 'handshake.timeout-without-hello'), /^fail: .*10000 ms bound/)
  t.equal(report.exitCode, 1)
})

t.test('at --time-scale 3 an idle close at 2.5x heartbeat fails [HB-2]', async (t) => {
  const report = await withFakeServer(['idle-close-late'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      transports: ['tcp'],
      timeScale: 3,
      cases: ['heartbeat.silent-connection-closed'],
    }),
  )
  t.match(
    verdictOf(report.cases, 'heartbeat.silent-connection-closed'),
    /^fail: .*(later than the 2000 ms upper bound|within the 2000 ms bound)/,
  )
})

t.test('a runner that stalls while the close arrives is inconclusive, not failed', async (t) => {
  // The fake server closes at 1.5 s. The test blocks this process's event loop from 1.2 s to
  // 2.6 s after the case starts: the close is seen ~1.1 s late, past the 2 s bound.
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      transports: ['tcp'],
      cases: ['heartbeat.silent-connection-closed'],
      onCaseStart: () => {
        setTimeout(() => {
          const until = performance.now() + 1_400
          while (performance.now() < until) {
            // busy: the runner lags
          }
        }, 1_200)
      },
    }),
  )
  t.match(verdictOf(report.cases, 'heartbeat.silent-connection-closed'), /^inconclusive: closed: runner lagged \d+ ms/)
  t.equal(report.summary.inconclusive, 1)
  t.equal(report.summary.failed, 0)
  t.equal(report.exitCode, 0, 'inconclusive does not change the exit code')
})

t.test('a Close 3002 after the runner itself went silent while lagging is inconclusive, not failed', async (t) => {
  // The case Pings every 500 ms (heartbeat 1000 ms). The test blocks this process from 0.7 s to
  // 2.4 s: the runner writes nothing for more than 1.5 heartbeats, so the server's idle close is
  // right, and the runner cannot blame it.
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      transports: ['tcp'],
      cases: ['heartbeat.pings-keep-connection-alive'],
      onCaseStart: () => {
        setTimeout(() => {
          const until = performance.now() + 1_700
          while (performance.now() < until) {
            // busy: the runner lags
          }
        }, 700)
      },
    }),
  )
  t.match(
    verdictOf(report.cases, 'heartbeat.pings-keep-connection-alive'),
    /^inconclusive: Close 3002 after the runner wrote nothing for \d+ ms .*runner lagged/,
  )
  t.equal(report.summary.failed, 0)
})

t.test('the same case without lag passes: the keep-alive judgement needs the lag', async (t) => {
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({ targets, tokenSecret: SECRET, transports: ['tcp'], cases: ['heartbeat.pings-keep-connection-alive'] }),
  )
  t.match(verdictOf(report.cases, 'heartbeat.pings-keep-connection-alive'), /^pass/)
})

t.test('bounds are judged with the timer tolerance, and lag makes a judgement inconclusive', async (t) => {
  t.same(judgeBound({ notBeforeMs: 1500, beforeMs: 2000 }, 1500, 0), { verdict: 'pass' })
  t.equal(judgeBound({ notBeforeMs: 1500 }, 1420, 0).verdict, 'fail', '1.42x heartbeat is too early')
  t.equal(judgeBound({ notBeforeMs: 1500 }, 1500 - TIMER_TOLERANCE_MS, 0).verdict, 'pass')
  t.equal(judgeBound({ beforeMs: 2000 }, 2500, 0).verdict, 'fail', '2.5x heartbeat is too late')
  t.equal(judgeBound({ beforeMs: 2000 }, 2500, 600).verdict, 'inconclusive', 'late only through 600 ms of lag')
  t.equal(judgeBound({ beforeMs: 2000 }, 3000, 300).verdict, 'fail', 'late even allowing for the lag')
  t.equal(judgeBound({ notBeforeMs: 1500 }, 1520, 200).verdict, 'inconclusive', 'passed only thanks to lag')
})
