// `imwire conformance client` through the built CLI: the bundled reference
// client passes with a report that validates against the report schema; a
// broken client given with --client fails its case (exit 1) unless the
// known-failures file lists it; an adapter that never starts is exit 3; a
// command without {statedir} is a usage error (exit 2, checked in-process).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ensureBuilt, ROOT } from '../../test/support/built.js'
import { TIME_SCALE } from '../../test/support/time-scale.js'
import { compileSchemaFile } from '../load/json-schema.js'
import type { Report } from '../report/report-types.js'
import { main } from '../cli.js'

const BROKEN_ADAPTER = 'conformance/test/fixtures/broken-client-adapter-main.ts'
const [cliPath, brokenPath] = await ensureBuilt('src/cli/main.ts', BROKEN_ADAPTER)
const dir = mkdtempSync(join(tmpdir(), 'imwire-client-cli-'))
const validReport = compileSchemaFile(join(ROOT, 'vectors', 'schema', 'report.schema.json'))

async function imwire(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    [cliPath as string, 'conformance', 'client', '--time-scale', String(TIME_SCALE), '--no-color', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d
  })
  child.stderr.on('data', (d: Buffer) => {
    err += d
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, out, err }
}

const broken = (fault: string) => `'${process.execPath}' '${brokenPath}' --fault ${fault} --state {statedir}`
const SURVIVES_RESTART = 'client.outbox.survives-restart'

// The whole client suite against the reference client runs in client-conformance.test.ts
// (in-process); here two quick cases prove the CLI path and the reports.
t.test('the bundled reference client passes; JSON, JUnit and TAP reports', async (t) => {
  const json = join(dir, 'ref.json')
  const junit = join(dir, 'ref.xml')
  const r = await imwire([
    '--case',
    'client.retry.same-id-after-drop',
    '--case',
    SURVIVES_RESTART,
    '--reporter',
    `json=${json}`,
    '--reporter',
    `junit=${junit}`,
    '--reporter',
    'tap',
  ])
  t.equal(r.code, 0, r.err)
  const report = JSON.parse(readFileSync(json, 'utf8')) as Report
  t.ok(validReport(report), JSON.stringify(validReport.errors))
  t.equal(report.target.mode, 'client')
  t.equal(report.summary.total, 2)
  t.equal(report.summary.passed, report.summary.total)
  t.match(readFileSync(junit, 'utf8'), /<testsuites name="imwire conformance" tests="\d+" failures="0"/)
  t.match(r.out, /^TAP version 14/m)
  t.notMatch(r.out, /^not ok/m)
})

t.test('a broken client given with --client fails the case that catches it (exit 1), with a transcript', async (t) => {
  const json = join(dir, 'broken.json')
  const r = await imwire([
    '--client',
    broken('memory-outbox'),
    '--case',
    SURVIVES_RESTART,
    '--reporter',
    `json=${json}`,
  ])
  t.equal(r.code, 1, r.err)
  const report = JSON.parse(readFileSync(json, 'utf8')) as Report
  t.ok(validReport(report), JSON.stringify(validReport.errors))
  const c = report.cases[0]
  t.equal(c?.id, SURVIVES_RESTART)
  t.equal(c?.verdict, 'fail')
  t.match(c?.failure?.message, /outbox holds 0 messages/)
  t.ok(
    c?.transcript.some((e) => e.dir === 'in' && e.frame !== undefined),
    'the transcript holds the frames the client sent',
  )
  t.match(r.out, /MUST FAILURE tcp:client\.outbox\.survives-restart/)
})

t.test(
  '--known-failures turns the listed failure into an expected one (exit 0) and a stale line into exit 1',
  async (t) => {
    const known = join(dir, 'known.txt')
    writeFileSync(known, `${SURVIVES_RESTART}  # the outbox is in memory for now\n`)
    const expected = await imwire([
      '--client',
      broken('memory-outbox'),
      '--case',
      SURVIVES_RESTART,
      '--known-failures',
      known,
    ])
    t.equal(expected.code, 0, expected.err + expected.out)
    const stale = await imwire(['--case', SURVIVES_RESTART, '--known-failures', known])
    t.equal(stale.code, 1, 'the reference client passes the listed case: the list is stale')
    t.match(stale.out, /remove the line/)
  },
)

t.test('an adapter that never speaks the driver protocol is unreachable (exit 3)', async (t) => {
  const r = await imwire(['--client', 'exit 0 {statedir}', '--time-scale', '0.2'])
  t.equal(r.code, 3, r.err + r.out)
})

async function inProcess(argv: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const sink = {
    write: (s: string) => {
      out += s
      return true
    },
  }
  const code = await main(['client', ...argv], { stdout: sink, stderr: sink })
  return { code, out }
}

t.test('usage errors exit 2: --client without {statedir}, server options, an unknown case to explain', async (t) => {
  t.equal((await inProcess(['--client', 'my-adapter'])).code, 2)
  t.equal((await inProcess(['--target', 'tcp://127.0.0.1:1'])).code, 2)
  t.equal((await inProcess(['explain', 'client.nope'])).code, 2)
  t.equal((await inProcess(['coverage'])).code, 2, 'coverage spans both suites: imwire conformance coverage')
})

t.test('list and explain show the client cases', async (t) => {
  const listed = await inProcess(['list', '--json'])
  t.equal(listed.code, 0)
  t.ok((JSON.parse(listed.out) as Array<{ id: string }>).some((s) => s.id === SURVIVES_RESTART))
  const explained = await inProcess(['explain', SURVIVES_RESTART])
  t.equal(explained.code, 0)
  t.match(explained.out, /\[RTY-7\] /)
})
