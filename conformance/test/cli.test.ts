// The command line: options, subcommands, reporters to files, exit codes
// (0 conformant, 1 failures, 2 usage or harness error, 3 unreachable), and
// --spawn with restart cases.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseArgs } from '../args.js'
import { main } from '../cli.js'
import { builtPath, ensureBuilt } from '../../test/support/built.js'
import { scaled } from '../../test/support/time-scale.js'
import { FAKE_SERVER_MAIN, fakeServerCommand, SECRET, TEST_VECTORS, withFakeServer } from './helpers.js'

// --spawn runs the fake server from dist/.
await ensureBuilt(FAKE_SERVER_MAIN)

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(argv, {
    stdout: {
      write: (s: string) => {
        out += s
        return true
      },
    },
    stderr: {
      write: (s: string) => {
        err += s
        return true
      },
    },
  })
  return { code, out, err }
}

t.test('options parse into one run description', async (t) => {
  const a = parseArgs([
    '--target',
    'tcp://h:1',
    '--target=ws://h:2/x',
    '--case',
    'a.*',
    '--level',
    'should',
    '--jobs',
    '3',
    '--time-scale',
    '2.5',
    '--reporter',
    'json',
    '--out',
    'r.json',
    '--reporter',
    'junit=j.xml',
    '--reporter',
    'tap',
  ])
  t.same(a.targets, ['tcp://h:1', 'ws://h:2/x'])
  t.same([a.command, a.level, a.jobs, a.timeScale], ['run', 'SHOULD', 3, 2.5])
  t.same(a.reporters, [{ name: 'json', out: 'r.json' }, { name: 'junit', out: 'j.xml' }, { name: 'tap' }])
  t.same(parseArgs(['explain', 'x.y']).explainId, 'x.y')
})

t.test('usage errors exit 2 with a message, --help exits 0', async (t) => {
  t.equal((await cli(['--help'])).code, 0)
  t.match(
    (await cli(['--help'])).out,
    /exit codes: 0 conformant, 1 conformance failures, 2 usage or harness error, 3 target unreachable/,
  )
  for (const argv of [
    ['--bogus'],
    ['--reporter', 'xml'],
    ['--reporter', 'json', '--reporter', 'tap'],
    ['--out', 'x.json'],
    ['--jobs', '0'],
    ['--level', 'MAY'],
    ['--transport', 'quic'],
    ['frobnicate'],
    ['explain'],
    ['--target', 'http://x'],
    ['--target', 'tcp://127.0.0.1:1'],
    ['--target', 'tcp://127.0.0.1:1', '--spawn', 'x', '--token-secret', 's'],
  ]) {
    const r = await cli([...argv, '--vectors', TEST_VECTORS])
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, /^imwire conformance: /, argv.join(' '))
  }
})

t.test('list, explain and coverage read the vectors and the spec', async (t) => {
  const list = await cli(['list', '--vectors', TEST_VECTORS, '--case', 'runner.ping*'])
  t.equal(list.code, 0)
  t.match(list.out, /^runner.ping-pong-capture +MUST +HB-1\n1 scenarios\n$/)
  const json = JSON.parse((await cli(['list', '--vectors', TEST_VECTORS, '--json', '--requirement', 'HS-5'])).out)
  t.same(json, [
    {
      id: 'runner.lz4-is-offered',
      title: 'A scenario needing lz4 runs only when the Welcome enables it',
      level: 'MUST',
      requirements: ['HS-5'],
      features: ['lz4'],
      needs: [],
    },
  ])
  const explain = await cli(['explain', 'runner.idle-connection-times-out', '--vectors', TEST_VECTORS])
  t.equal(explain.code, 0)
  t.match(explain.out, /\[HB-2\] \(MUST\) The server MUST close with 3002/)
  t.match(explain.out, /steps\[1\] \{"expectClose":"a1","code":3002/)
  const unknown = await cli(['explain', 'runner.idle', '--vectors', TEST_VECTORS])
  t.equal(unknown.code, 2)
  t.match(unknown.err, /did you mean: runner.idle-connection-times-out/)
  const cov = await cli(['coverage', '--vectors', TEST_VECTORS])
  t.equal(cov.code, 1, 'the runner test vectors leave MUSTs uncovered')
  t.match(cov.out, /^MISSING /m)
  t.match(cov.out, /^ok +HB-2 +MUST +session:runner.idle-connection-times-out session:runner.keepalive-and-silence$/m)
})

t.test('invalid vectors stop every command with exit 2 and the problems listed', async (t) => {
  const dir = t.testdir({
    'bad.json': JSON.stringify({
      kind: 'session',
      version: 1,
      scenarios: [{ id: 'x.y', title: 't', requirements: ['HS-1'], level: 'MUST', steps: [{ sleep: 1, oops: 1 }] }],
    }),
  })
  for (const argv of [['list'], ['coverage'], ['--target', 'tcp://127.0.0.1:1', '--token-secret', 's']]) {
    const r = await cli([...argv, '--vectors', dir])
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.out + r.err, /bad.json \/scenarios\/0\/steps\/0: unknown field 'oops'/)
  }
})

t.test('a run writes every requested report and exits 0 when conformant, 1 on failures', async (t) => {
  const dir = t.testdir({})
  const ok = await withFakeServer([], (_s, targets) =>
    cli([
      ...targets.flatMap((x) => ['--target', x]),
      '--token-secret',
      SECRET,
      '--vectors',
      TEST_VECTORS,
      '--case',
      'runner.ping-*',
      '--reporter',
      `json=${join(dir, 'r.json')}`,
      '--reporter',
      'junit',
      '--out',
      join(dir, 'sub', 'j.xml'),
      '--reporter',
      'tap',
    ]),
  )
  t.equal(ok.code, 0, ok.err)
  t.equal(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).summary.passed, 2)
  t.ok(existsSync(join(dir, 'sub', 'j.xml')))
  t.match(ok.out, /^TAP version 14\n1\.\.2\n/, 'tap owns stdout')
  t.match(ok.err, /2 passed, 0 failed/, 'the console moved to stderr')
  const bad = await withFakeServer(['bad-pong'], (_s, targets) =>
    cli([
      ...targets.flatMap((x) => ['--target', x]),
      '--token-secret',
      SECRET,
      '--vectors',
      TEST_VECTORS,
      '--case',
      'runner.ping-*',
    ]),
  )
  t.equal(bad.code, 1)
  t.match(bad.out, /MUST FAILURE tcp:runner.ping-pong-capture/)
})

t.test('a stale known-failures file fails the run and names the lines to remove', async (t) => {
  const dir = t.testdir({ 'kf.txt': '# known\nruner.typo-*  # never matches\n\ntcp:runner.ping-pong-capture\n' })
  const r = await withFakeServer([], (_s, targets) =>
    cli([
      ...targets.flatMap((x) => ['--target', x]),
      '--token-secret',
      SECRET,
      '--vectors',
      TEST_VECTORS,
      '--case',
      'runner.ping-*',
      '--known-failures',
      join(dir, 'kf.txt'),
    ]),
  )
  t.equal(r.code, 1)
  t.match(
    r.out,
    /remove these lines from .*kf.txt:\n {2}2: runer.typo-\* {2}# never matches\n {2}4: tcp:runner.ping-pong-capture\n/,
  )
  writeFileSync(join(dir, 'bad.txt'), 'not a glob!\n')
  t.equal(
    (
      await cli([
        '--target',
        'tcp://127.0.0.1:1',
        '--token-secret',
        's',
        '--vectors',
        TEST_VECTORS,
        '--known-failures',
        join(dir, 'bad.txt'),
      ])
    ).code,
    2,
  )
})

t.test('an unreachable target exits 3', async (t) => {
  const port = await withFakeServer([], async (s) => s.tcp)
  const r = await cli(['--target', `tcp://${port}`, '--token-secret', SECRET, '--vectors', TEST_VECTORS])
  t.equal(r.code, 3)
  t.match(r.out, /unreachable: tcp: .*ECONNREFUSED/)
})

t.test('--spawn starts the server, restarts it for restart cases, and stops it', async (t) => {
  const dir = t.testdir({})
  const r = await cli([
    '--spawn',
    fakeServerCommand(),
    '--vectors',
    TEST_VECTORS,
    '--case',
    'runner.restart-*',
    '--case',
    'runner.ping-*',
    '--all-transcripts', // the restart event is read from a passing case's transcript
    '--reporter',
    `json=${join(dir, 'r.json')}`,
  ])
  t.equal(r.code, 0, r.out + r.err)
  const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))
  t.equal(report.target.mode, 'spawn')
  t.same(
    report.cases
      .map((c: { transport: string; id: string; verdict: string }) => `${c.transport}:${c.id}:${c.verdict}`)
      .sort(),
    [
      'tcp:runner.ping-pong-capture:pass',
      'tcp:runner.restart-keeps-serving:pass',
      'ws:runner.ping-pong-capture:pass',
      'ws:runner.restart-keeps-serving:pass',
    ],
  )
  const restart = report.cases.find((c: { id: string }) => c.id === 'runner.restart-keeps-serving')
  t.ok(restart.transcript.some((e: { event?: string }) => e.event === 'restart'))
})

t.test('a spawned server that never prints its listening line is unreachable (exit 3)', async (t) => {
  const r = await cli([
    '--spawn',
    `"${process.execPath}" -e "setTimeout(()=>{}, 100)"`,
    '--vectors',
    TEST_VECTORS,
    '--time-scale',
    '0.1',
  ])
  t.equal(r.code, 3)
  t.match(r.out, /exited \(0\) before printing its listening line/)
})

t.test('a spawned server that crashes is recorded, started again, and fails the run', async (t) => {
  const dir = t.testdir({})
  const r = await cli([
    '--spawn',
    fakeServerCommand(['exit-on-666']),
    '--vectors',
    TEST_VECTORS,
    '--case',
    'runner.exit-on-ping',
    '--case',
    'runner.ping-pong-capture',
    '--jobs',
    '1',
    '--reporter',
    `json=${join(dir, 'r.json')}`,
  ])
  t.equal(r.code, 1)
  const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))
  t.equal(report.serverCrashes.length, 1)
  t.match(report.problems, [{ kind: 'server-crash' }])
  const verdicts = Object.fromEntries(
    report.cases.map((c: { transport: string; id: string; verdict: string }) => [`${c.transport}:${c.id}`, c.verdict]),
  )
  t.equal(verdicts['tcp:runner.exit-on-ping'], 'fail')
  t.equal(verdicts['tcp:runner.ping-pong-capture'], 'pass', 'the cases after the crash ran against the new process')
  t.equal(verdicts['ws:runner.ping-pong-capture'], 'pass')
})

t.test('a case that meets the server while it is dying is not blamed for the crash', async (t) => {
  // The server accepts and resets the next connection before its exit is
  // noticed; the runner must wait for the exit and connect to the new process.
  const dir = t.testdir({})
  const r = await cli([
    '--spawn',
    fakeServerCommand(['dying-on-666']),
    '--vectors',
    TEST_VECTORS,
    '--case',
    'runner.exit-on-ping',
    '--case',
    'runner.ping-pong-capture',
    '--jobs',
    '1',
    '--transport',
    'tcp',
    '--all-transcripts', // the passing case's transcript tells of the restart
    '--reporter',
    `json=${join(dir, 'r.json')}`,
  ])
  t.equal(r.code, 1)
  const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))
  t.equal(report.serverCrashes.length, 1)
  const byId = Object.fromEntries(report.cases.map((c: { id: string }) => [c.id, c]))
  t.equal(byId['runner.exit-on-ping'].verdict, 'fail')
  t.equal(byId['runner.ping-pong-capture'].verdict, 'pass', 'the next case ran against the new process')
  t.match(JSON.stringify(byId['runner.ping-pong-capture'].transcript), /died meanwhile and was started again/)
})

t.test('Ctrl-C (SIGINT) or SIGTERM stops the spawned server and exits 130 / 143', async (t) => {
  // The server runs in its own process group, so the terminal's Ctrl-C never
  // reaches it: the runner must stop it. Its command clears NODE_OPTIONS so
  // the test harness's exit-with-parent watchdog cannot stop it for the runner.
  const dir = t.testdir({})
  const cliMain = builtPath('src/cli/main.ts')
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const log = join(dir, `${signal}.log`)
    const child = spawn(
      process.execPath,
      [
        cliMain,
        'conformance',
        '--spawn',
        `NODE_OPTIONS= ${fakeServerCommand(['no-replay-complete'])}`,
        '--vectors',
        TEST_VECTORS,
        '--case',
        'runner.ping-pong-capture',
        // Without ReplayComplete every connect waits out its (stretched) budget:
        // the run is still going when the signal comes.
        '--time-scale',
        '100',
        '--server-log',
        log,
        '--quiet',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8')
    })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    const pid = await serverPid(log, scaled(20_000))
    t.teardown(() => {
      if (running(pid)) process.kill(pid, 'SIGKILL')
    })
    child.kill(signal)
    const [exitCode] = await exited
    t.equal(exitCode, code, `${signal}: exit code${stderr ? `; stderr: ${stderr}` : ''}`)
    t.notOk(running(pid), `${signal}: no server process remains`)
  }
})

/** The pid in the spawned server's listening line, from the runner's --server-log. */
async function serverPid(log: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : ''
    const m = /"event":"listening".*"pid":(\d+)/.exec(text)
    if (m) return Number(m[1])
    if (Date.now() > deadline) throw new Error(`no listening line in ${log} within ${timeoutMs} ms:\n${text}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Whether a process exists and is not a zombie waiting for a reaper. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return true // no /proc (not Linux): the signal test above is all there is
  }
}
