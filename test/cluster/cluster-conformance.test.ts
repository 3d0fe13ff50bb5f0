// The whole conformance suite against a throw-away three-node cluster
// (`imwire conformance --cluster 3`: PostgreSQL, Redis and three reference
// nodes, started and stopped by the runner), both transports, restart
// cases included (they restart every node). Each case's connections go to
// the nodes round robin, so every multi-connection case crosses nodes.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ensureBuilt } from '../support/built.js'
import { scaled } from '../support/time-scale.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

interface Report {
  summary: { total: number; passed: number; failed: number; skipped: number; errors: number }
  transports: string[]
  cases: { id: string; transport: string; verdict: string; nodes?: { conn: string; node: number }[] }[]
}

t.before(() => ensureBuilt())

t.test('the whole suite passes against 3 nodes on PostgreSQL and Redis, both transports', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imwire-cluster-suite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const report = path.join(dir, 'report.json')
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'dist/src/cli/main.js'), 'conformance', '--cluster', '3', '--reporter', `json=${report}`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString()
  })
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString()
  })
  const killer = setTimeout(() => child.kill('SIGTERM'), scaled(600_000))
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(killer)
  t.equal(code, 0, 'conformant (exit 0)')
  if (code !== 0) t.comment(out.slice(-6000))
  const r = JSON.parse(readFileSync(report, 'utf8')) as Report
  t.comment(`${r.summary.passed} passed, ${r.summary.failed} failed, ${r.summary.skipped} skipped`)
  t.equal(r.summary.failed, 0)
  t.equal(r.summary.errors, 0)
  t.equal(r.summary.skipped, 0, 'restart cases ran too')
  t.ok(r.summary.passed >= 500, 'the whole suite')
  t.same([...r.transports].sort(), ['tcp', 'ws'])
  const crossing = r.cases.filter((c) => new Set((c.nodes ?? []).map((n) => n.node)).size > 1)
  t.ok(crossing.length > 100, `${crossing.length} cases had connections on more than one node`)
  t.ok(
    r.cases.some((c) => c.id.startsWith('cluster.') && c.verdict === 'pass'),
    'the cluster scenarios ran',
  )
})
