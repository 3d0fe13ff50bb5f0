// Crash safety end to end: SIGKILL the server under load, restart it on the
// same data directory, let the clients retry, and check that nothing acked
// was lost, nothing was stored twice, and every device got everything in
// order. See crash-scenario.ts for the list of checks.
//
// The second test runs the same scenario against test/crash/faulty-serve.ts:
// the reference server over a test-only store that sends SendAck 150 ms
// before the commit (ack-before-commit-store.ts), and requires the checks to
// catch it: proof that the first test can fail.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ensureBuilt } from '../support/built.js'
import { scaled } from '../support/time-scale.js'
import { type CrashOptions, runCrashScenario, singleNode } from './crash-scenario.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const base: CrashOptions = {
  users: 8,
  messagesPerUser: 400,
  burst: 4,
  settleMs: scaled(20_000),
}
const KILL_AT = 0.35
const run = (fault: 'ack-before-commit' | null, settleMs: number) =>
  singleNode({ root: ROOT, fault, killAtFraction: KILL_AT, settleMs }).then((d) =>
    runCrashScenario(d, { ...base, settleMs }),
  )

// The scenario runs the compiled CLI, like a user would, and the compiled
// test-only server for the self-check.
t.before(() => ensureBuilt('test/crash/faulty-serve.ts'))

t.test(
  'every acked message survives a SIGKILL exactly once, at its acked seq, delivered to every member in order',
  async (t) => {
    const r = await run(null, base.settleMs)
    t.comment(
      `sent ${r.sent}, acked before kill ${r.ackedBeforeKill}, duplicate acks ${r.duplicatesAcked}, ` +
        `reconnects ${r.reconnects}, history ${r.history}`,
    )
    t.ok(r.ackedBeforeKill > 0 && r.ackedBeforeKill < r.sent, 'the kill landed mid-load')
    t.same(r.violations.slice(0, 20), [], 'no violations')
    t.equal(r.history, r.sent)
  },
)

t.test('the same checks catch a server that acks before the commit is durable', async (t) => {
  // Shorter settle than the clean run (a faulty run never settles: lost sends stay unacked), still
  // scaled with the machine so the kill lands mid-load on a loaded one.
  // The loss needs the kill to land while an acked commit is still pending, which is likely but
  // not certain (seen once in many loaded CI runs): up to three independent kills, the first that
  // exposes it counts.
  let r = await run('ack-before-commit', scaled(12_000))
  for (let attempt = 2; attempt <= 3 && !r.violations.some((v) => v.startsWith('[ACK-2]')); attempt++) {
    t.comment(`fault run ${attempt - 1} exposed no loss (acked before kill ${r.ackedBeforeKill}); killing again`)
    r = await run('ack-before-commit', scaled(12_000))
  }
  t.comment(
    `fault run: sent ${r.sent}, acked before kill ${r.ackedBeforeKill}, ${r.violations.length} violations, e.g. ${r.violations.slice(0, 3).join(' | ')}`,
  )
  t.ok(r.ackedBeforeKill > 0 && r.ackedBeforeKill < r.sent, 'the kill landed mid-load')
  t.ok(
    r.violations.some((v) => v.startsWith('[ACK-2]')),
    'an acked message is missing or moved after the restart',
  )
})
