// The runner end to end against the scripted fake server: every verb works
// against a correct server, and each planted fault is caught by the case
// written for it, with the step and the evidence.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the session language's template syntax, not JavaScript
import t from 'tap'
import type { CaseResult } from '../engine/case-types.js'
import type { Scenario } from '../load/scenario-types.js'
import { newTokenSecret, runSuite } from '../engine/run-suite.js'
import type { Report } from '../report/report-types.js'
import { SECRET, TEST_VECTORS, withFakeServer } from './helpers.js'

const byKey = (r: Report) => new Map(r.cases.map((c) => [`${c.transport}:${c.id}`, c] as [string, CaseResult]))

t.test('every runner scenario passes against a correct server over TCP and WebSocket', async (t) => {
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({ targets, tokenSecret: SECRET, allTranscripts: true, vectorsDir: TEST_VECTORS }),
  )
  const cases = byKey(report)
  t.equal(
    report.exitCode,
    0,
    report.cases
      .filter((c) => c.verdict !== 'pass')
      .map((c) => `${c.transport}:${c.id} ${c.verdict} ${c.failure?.message ?? c.reason}`)
      .join('\n'),
  )
  t.equal(report.outcome, 'conformant')
  t.same(report.transports, ['tcp', 'ws'])
  t.same(report.features, { tcp: ['lz4'], ws: ['lz4'] })
  t.notOk(cases.has('ws:runner.bad-prefix-is-malformed'), 'tcp-only cases do not exist for ws')
  t.notOk(cases.has('tcp:runner.text-message-is-malformed'))
  const restart = cases.get('tcp:runner.restart-keeps-serving')
  t.equal(restart?.verdict, 'skipped', 'restart needs a server the runner started')
  t.match(restart?.reason, /--spawn/)
  t.equal(report.summary.passed + report.summary.skipped, report.summary.total)
  t.ok(report.requirements.some((r) => r.id === 'HB-1' && r.passed >= 2))
  const hb = cases.get('tcp:runner.idle-connection-times-out')
  t.ok(
    hb?.transcript.some((e) => e.dir === 'in' && JSON.stringify(e.frame).includes('HEARTBEAT_TIMEOUT')),
    'the transcript holds the Close frame',
  )
})

t.test('a wrong Pong nonce fails the case at the step that checks it, with the evidence', async (t) => {
  const report = await withFakeServer(['bad-pong'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      allTranscripts: true,
      vectorsDir: TEST_VECTORS,
      cases: ['runner.ping-pong-capture'],
    }),
  )
  t.equal(report.exitCode, 1)
  for (const c of report.cases) {
    t.equal(c.verdict, 'fail')
    t.equal(c.failure?.step, 'steps[3]', 'the capture step accepts any nonce; the assert catches it')
    t.same(c.failure?.stepJson, { assert: { equal: ['${cap.n}', '${cap.again}', '42'] } })
    t.same(c.failure?.actual, ['43', '43', '42'])
  }
  t.equal(report.summary.mustFailed, 2)
  const report2 = await withFakeServer(['bad-pong'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      allTranscripts: true,
      vectorsDir: TEST_VECTORS,
      cases: ['runner.expect-set-any-order'],
    }),
  )
  t.match(report2.cases[0]?.failure?.message, /do not match the set/)
  const report3 = await withFakeServer(['bad-pong'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.parallel-connections'],
      transports: ['tcp'],
    }),
  )
  const f = report3.cases[0]?.failure
  t.match(f?.step, /^steps\[0\]\.parallel\[[01]\]\[2\]$/, 'the path names the branch and the step')
  t.same(
    f?.mismatches?.map((m) => [m.path, m.expected, m.actual]),
    [['pong.nonce', '1', '2']]
      .filter(() => f?.step.includes('parallel[0]'))
      .concat([['pong.nonce', '2', '3']].filter(() => f?.step.includes('parallel[1]'))),
  )
})

t.test('a server that closes without a Close frame fails the expectClose steps [ERR-2]', async (t) => {
  const report = await withFakeServer(['no-close-frame'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.text-*', 'runner.bad-prefix-*'],
    }),
  )
  t.equal(report.exitCode, 1)
  t.equal(report.cases.length, 2)
  for (const c of report.cases) t.match(c.failure?.message, /without a Close frame.*\[ERR-2\]/)
})

t.test('a WebSocket close code that differs from the Close frame fails over ws only', async (t) => {
  const report = await withFakeServer(['ws-code-mismatch'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.text-*', 'runner.bad-prefix-*'],
    }),
  )
  const cases = byKey(report)
  t.equal(cases.get('tcp:runner.bad-prefix-is-malformed')?.verdict, 'pass')
  t.equal(cases.get('ws:runner.text-message-is-malformed')?.verdict, 'fail')
  t.match(cases.get('ws:runner.text-message-is-malformed')?.failure?.message, /WebSocket close code 1000 differs.*3504/)
})

t.test('a feature the Welcome does not enable skips the case with the reason', async (t) => {
  const report = await withFakeServer(['no-features'], (_s, targets) =>
    runSuite({ targets, tokenSecret: SECRET, allTranscripts: true, vectorsDir: TEST_VECTORS, cases: ['runner.lz4-*'] }),
  )
  t.equal(report.exitCode, 0)
  t.same(report.features, { tcp: [], ws: [] })
  for (const c of report.cases) {
    t.equal(c.verdict, 'skipped')
    t.match(c.reason, /does not enable lz4/)
  }
})

t.test('SHOULD failures are reported apart and fail the run only with strict', async (t) => {
  // The fake server with no-replay-complete breaks every handshake, so the SHOULD case fails too.
  const opts = {
    tokenSecret: SECRET,
    vectorsDir: TEST_VECTORS,
    allTranscripts: true,
    cases: ['runner.raw-writes-and-disconnects'],
    transports: ['tcp' as const],
  }
  const lax = await withFakeServer(['no-replay-complete'], (_s, targets) =>
    runSuite({ ...opts, targets, timeScale: 0.3 }),
  )
  t.equal(lax.summary.shouldFailed, 1)
  t.equal(lax.summary.mustFailed, 0)
  t.equal(lax.exitCode, 0)
  const strict = await withFakeServer(['no-replay-complete'], (_s, targets) =>
    runSuite({ ...opts, targets, timeScale: 0.3, strict: true }),
  )
  t.equal(strict.exitCode, 1)
})

t.test('known failures turn failures into expected failures and flag stale or unmatched lines', async (t) => {
  const known = [
    { line: 1, text: 'runner.ping-pong-capture', transport: null, glob: 'runner.ping-pong-capture' },
    { line: 2, text: 'tcp:runner.parallel-*', transport: 'tcp' as const, glob: 'runner.parallel-*' },
    { line: 3, text: 'nothing.like.this', transport: null, glob: 'nothing.like.this' },
  ]
  const report = await withFakeServer(['bad-pong'], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.ping-pong-capture', 'runner.lz4-*'],
      knownFailures: known,
    }),
  )
  t.same(
    report.cases.filter((c) => c.id === 'runner.ping-pong-capture').map((c) => c.verdict),
    ['expected-failure', 'expected-failure'],
  )
  t.equal(report.summary.expectedFailures, 2)
  t.same(
    report.problems.map((p) => [p.kind, p.line]),
    [['unmatched-known-failure', 3]],
    'line 2 matches a case that was not selected: neither stale nor unmatched',
  )
  t.equal(report.exitCode, 1, 'an unmatched line fails the run')
  const stale = await withFakeServer([], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.ping-pong-capture'],
      knownFailures: known.slice(0, 1),
    }),
  )
  t.equal(stale.exitCode, 1)
  t.same(
    stale.problems.map((p) => [p.kind, p.line, p.text]),
    [['stale-known-failure', 1, 'runner.ping-pong-capture']],
  )
  t.equal(stale.summary.staleKnownFailures, 1)
})

t.test('a known-failures line for the transport a run leaves out is neither stale nor unmatched', async (t) => {
  const known = [
    { line: 1, text: 'ws:runner.ping-pong-capture', transport: 'ws' as const, glob: 'runner.ping-pong-capture' },
    { line: 2, text: 'ws:runner.bad-prefix-is-malformed', transport: 'ws' as const, glob: 'runner.bad-prefix-*' },
  ]
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.ping-pong-capture'],
      transports: ['tcp'],
      knownFailures: known,
    }),
  )
  t.same(
    report.problems.map((p) => [p.kind, p.line]),
    [['unmatched-known-failure', 2]],
    'line 1 names a case of the suite; line 2 names a tcp-only case over ws, which does not exist',
  )
})

t.test('a wrong token secret is a usage problem (exit 2), an unreachable target exit 3', async (t) => {
  const bad = await withFakeServer([], (_s, targets) =>
    runSuite({ targets, tokenSecret: 'wrong', vectorsDir: TEST_VECTORS }),
  )
  t.equal(bad.exitCode, 2)
  t.equal(bad.problems[0]?.kind, 'unauthorized')
  const port = await withFakeServer([], async (s) => s.tcp)
  const down = await runSuite({
    targets: [`tcp://${port}`],
    tokenSecret: SECRET,
    allTranscripts: true,
    vectorsDir: TEST_VECTORS,
  })
  t.equal(down.exitCode, 3)
  t.equal(down.outcome, 'unreachable')
  t.match(down.problems[0]?.message, /ECONNREFUSED/)
})

t.test('a vector the runner cannot execute is a harness error, not a server failure', async (t) => {
  const scenario: Scenario = {
    id: 'runner.broken-vector',
    title: 'frame that does not convert',
    requirements: ['HB-1'],
    level: 'MUST',
    features: [],
    needs: [],
    timeoutMs: 2000,
    actors: { alice: { user: 'alice', device: 'd' } },
    steps: [
      { connect: 'alice', conn: 'a1' },
      { send: 'a1', frame: { ping: { nonce: 'not-a-number' } } },
    ],
    file: 'x.json',
  }
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({ targets, tokenSecret: SECRET, allTranscripts: true, scenarios: [scenario], transports: ['tcp'] }),
  )
  t.equal(report.cases[0]?.verdict, 'error')
  t.equal(report.exitCode, 2)
  t.equal(report.outcome, 'harness-error')
  t.equal(report.summary.mustFailed, 0)
  t.match(
    report.problems.map((p) => p.kind),
    ['harness-error'],
  )
})

t.test('a scenario over its time budget fails with the budget in the message', async (t) => {
  const scenario: Scenario = {
    id: 'runner.too-slow',
    title: 'sleeps past its budget',
    requirements: ['HB-1'],
    level: 'MUST',
    features: [],
    needs: [],
    timeoutMs: 300,
    actors: { alice: { user: 'alice', device: 'd' } },
    steps: [
      { connect: 'alice', conn: 'a1' },
      { expectNothing: 'a1', forMs: 250 },
      { expect: 'a1', frame: { pong: {} }, withinMs: 5000 },
    ],
    file: 'x.json',
  }
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({ targets, tokenSecret: SECRET, allTranscripts: true, scenarios: [scenario], transports: ['ws'] }),
  )
  t.equal(report.cases[0]?.verdict, 'fail')
  t.match(report.cases[0]?.failure?.message, /(budget of 300 ms|within \d+ ms)/)
})

t.test('an empty selection is a usage error', async (t) => {
  await t.rejects(
    runSuite({
      targets: ['tcp://127.0.0.1:1'],
      tokenSecret: SECRET,
      allTranscripts: true,
      vectorsDir: TEST_VECTORS,
      cases: ['no.such.*'],
    }),
    { name: 'UsageError' },
  )
})

t.test('a server that completes a WebSocket upgrade without imwire.v1 offered is caught [FRM-12]', async (t) => {
  const run = (fault: 'ws-any-subprotocol' | 'ws-forced-subprotocol') =>
    withFakeServer([fault], (_s, targets) =>
      runSuite({
        targets,
        tokenSecret: SECRET,
        allTranscripts: true,
        vectorsDir: TEST_VECTORS,
        cases: ['runner.ws-upgrade-*'],
      }),
    )
  const any = await run('ws-any-subprotocol')
  t.equal(any.exitCode, 1)
  const c = any.cases[0]
  t.equal(c?.verdict, 'fail')
  t.equal(c?.failure?.step, 'steps[0]')
  t.match(c?.failure?.message, /completed the WebSocket upgrade offering no subprotocol \(HTTP 101, no subprotocol\)/)
  t.ok(
    c?.transcript.some((e) => e.event === 'upgraded'),
    'the transcript shows the completed upgrade',
  )
  const forced = await run('ws-forced-subprotocol')
  t.equal(forced.cases[0]?.verdict, 'fail')
  t.match(forced.cases[0]?.failure?.message, /not refused with an HTTP error status: .*subprotocol/)
})

t.test('a refused upgrade is recorded with its HTTP status', async (t) => {
  const report = await withFakeServer([], (_s, targets) =>
    runSuite({
      targets,
      tokenSecret: SECRET,
      allTranscripts: true,
      vectorsDir: TEST_VECTORS,
      cases: ['runner.ws-upgrade-*'],
    }),
  )
  t.equal(report.cases[0]?.verdict, 'pass')
  t.same(
    report.cases[0]?.transcript.filter((e) => e.event === 'refused').map((e) => [e.conn, e.detail]),
    [
      ['a0', 'HTTP 400 Bad Request'],
      ['a2', 'HTTP 400 Bad Request'],
    ],
  )
})

t.test('the shipped FRM-12 vectors pass against a refusing server and fail against an accepting one', async (t) => {
  const run = (faults: Array<'ws-any-subprotocol'>) =>
    withFakeServer(faults, (_s, targets) =>
      runSuite({ targets, tokenSecret: SECRET, cases: ['handshake.ws-upgrade-*'], transports: ['ws'] }),
    )
  const good = await run([])
  t.same(
    good.cases.map((c) => [c.id, c.verdict]),
    [
      ['handshake.ws-upgrade-without-subprotocol-refused', 'pass'],
      ['handshake.ws-upgrade-with-other-subprotocols-refused', 'pass'],
      ['handshake.ws-upgrade-selects-imwire-v1-among-others', 'pass'],
    ],
  )
  const bad = await run(['ws-any-subprotocol'])
  t.same(
    bad.cases.map((c) => [c.id, c.verdict]),
    [
      ['handshake.ws-upgrade-without-subprotocol-refused', 'fail'],
      ['handshake.ws-upgrade-with-other-subprotocols-refused', 'fail'],
      ['handshake.ws-upgrade-selects-imwire-v1-among-others', 'pass'],
    ],
  )
  t.equal(bad.exitCode, 1)
})

t.test('a server that selects another offered subprotocol than imwire.v1 fails the connect [FRM-2]', async (t) => {
  const report = await withFakeServer(['ws-first-subprotocol'], (_s, targets) =>
    runSuite({ targets, tokenSecret: SECRET, cases: ['handshake.ws-upgrade-selects-*'], transports: ['ws'] }),
  )
  const c = report.cases[0]
  t.equal(c?.verdict, 'fail')
  t.equal(c?.failure?.step, 'steps[0]')
  t.match(c?.failure?.message, /completed the WebSocket upgrade with subprotocol 'chat', not 'imwire.v1' \[FRM-2\]/)
})

t.test('a generated token secret never reads as an option in `--token-secret {secret}`', async (t) => {
  const bad = Array.from({ length: 2000 }, newTokenSecret).filter((s) => !/^[0-9a-f]{36}$/.test(s))
  t.same(bad, [], 'hex only: no leading "-"')
})
