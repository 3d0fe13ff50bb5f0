// The newcomer's first command: `imwire conformance` with no target starts
// the bundled reference server and runs the whole suite over TCP and
// WebSocket. The reference server must pass every case.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { builtPath, ensureBuilt } from '../../test/support/built.js'
import { scaled, TIME_SCALE } from '../../test/support/time-scale.js'

t.test('the bundled reference server passes the whole suite over TCP and WebSocket', async (t) => {
  await ensureBuilt()
  const cli = builtPath('src/cli/main.ts')
  const dir = t.testdir({})
  const out = join(dir, 'report.json')
  const res = spawnSync(process.execPath, [cli, 'conformance', '--reporter', `json=${out}`, '--no-color', '--time-scale', String(TIME_SCALE)], {
    encoding: 'utf8',
    timeout: scaled(300_000),
  })
  const report = JSON.parse(readFileSync(out, 'utf8')) as {
    target: { mode: string }
    problems: Array<{ kind: string; message: string }>
    transports: string[]
    summary: { total: number; passed: number; inconclusive: number }
    cases: Array<{
      id: string
      transport: string
      verdict: string
      reason?: string
      failure?: { step: string; message: string }
    }>
  }
  t.same(
    report.problems.map((p) => `${p.kind}: ${p.message}`),
    [],
    'no problems (unreachable server, crashes, harness errors)',
  )
  const failed = report.cases
    // inconclusive: a time bound this (loaded) machine's runner lagged too much to judge
    .filter((c) => c.verdict !== 'pass' && c.verdict !== 'inconclusive')
  // npm test runs this beside other heavy files: on a loaded 2-core machine the reference
  // server's own timers can fire late enough to break a heartbeat bound, which the kit checks as
  // written. A failing case is run again alone; only a failure that repeats counts.
  const stillFailing: string[] = []
  for (const c of failed) {
    const again = spawnSync(
      process.execPath,
      [cli, 'conformance', '--case', c.id, '--transport', c.transport, '--no-color', '--time-scale', String(TIME_SCALE)],
      { encoding: 'utf8', timeout: scaled(120_000) },
    )
    const first = `${c.transport}:${c.id} ${c.verdict}: ${c.failure ? `${c.failure.step} ${c.failure.message}` : (c.reason ?? '')}`
    if (again.status === 0) t.comment(`${first} — failed under load, passed alone`)
    else stillFailing.push(first)
  }
  t.same(stillFailing, [], 'every case passes (or is inconclusive on timing, or passes alone when run again)')
  t.equal(res.status, failed.length === 0 ? 0 : 1, res.stdout.split('\n').slice(-5).join('\n'))
  t.equal(report.target.mode, 'bundled')
  t.same(report.transports, ['tcp', 'ws'])
  t.equal(report.summary.passed + report.summary.inconclusive + failed.length, report.summary.total)
  t.ok(report.summary.total > 100, 'the suite is not empty')
})
