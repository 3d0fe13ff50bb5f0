// A cluster target: several --target addresses of a transport, --spawn with
// --nodes N, or the bundled cluster (--cluster N). Each case spreads its
// connections over the nodes round robin from a start that advances per case;
// a restart stops every node, then starts every node; a node that dies is a
// crash of the target, named by its node.
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { builtPath, ensureBuilt } from '../../test/support/built.js'
import { parseArgs } from '../args.js'
import { renderReport } from '../cli.js'
import { placementFor } from '../engine/case-jobs.js'
import { ClusterTarget, nodesOfTargets } from '../engine/cluster-target.js'
import { NodePlacement } from '../engine/node-placement.js'
import { openTarget } from '../engine/open-target.js'
import { runSuite } from '../engine/run-suite.js'
import { stopSpawnedServers, UsageError } from '../engine/target.js'
import { FAKE_SERVER_MAIN, fakeServerCommand, SECRET, TEST_VECTORS, withFakeServer } from './helpers.js'

await ensureBuilt(FAKE_SERVER_MAIN)

const threeNodes = { info: () => ({ mode: 'address' as const, addresses: {}, nodes: [{}, {}, {}] }) }

t.test('connection i of a case goes to node (start + i) mod N, start advancing with the case', async (t) => {
  const nodesOf = (caseIndex: number, connections: number) => {
    const p = placementFor({ index: caseIndex }, threeNodes) as NodePlacement
    return Array.from({ length: connections }, (_, i) => p.next(`c${i}`) + 1)
  }
  t.same(nodesOf(0, 4), [1, 2, 3, 1])
  t.same(nodesOf(1, 4), [2, 3, 1, 2])
  t.same(nodesOf(5, 2), [3, 1])
  t.same(nodesOf(7, 3), nodesOf(7, 3), 'the same case index places the same way')
  for (let c = 0; c < 6; c++) {
    const [a, b] = nodesOf(c, 2)
    t.not(a, b, `case ${c}: two connections are on two nodes`)
  }
  t.same(
    new Set([0, 1, 2].map((c) => nodesOf(c, 1)[0])),
    new Set([1, 2, 3]),
    'single-connection cases visit every node',
  )
  t.equal(
    placementFor({ index: 4 }, { info: () => ({ mode: 'address', addresses: {} }) }),
    undefined,
    'no cluster, no placement',
  )
  const p = new NodePlacement(2, 1, (n, k) => `${k}://node${n + 1}`)
  p.next('a1')
  p.next('b1')
  t.same(p.log, [
    { conn: 'a1', node: 2 },
    { conn: 'b1', node: 1 },
  ])
  t.equal(p.describe(1, 'tcp'), 'node 2/2 (tcp://node2)')
})

t.test('repeated --target addresses of a transport are the nodes of one cluster', async (t) => {
  t.same(nodesOfTargets(['tcp://a:1', 'ws://a:2/x', 'tcp://b:1', 'ws://b:2/x']), [
    { tcp: { host: 'a', port: 1 }, ws: 'ws://a:2/x' },
    { tcp: { host: 'b', port: 1 }, ws: 'ws://b:2/x' },
  ])
  t.equal(nodesOfTargets(['tcp://a:1', 'ws://a:2/x']).length, 1, 'one address per transport: one server')
  t.throws(() => nodesOfTargets(['tcp://a:1', 'tcp://b:1', 'ws://a:2/x']), UsageError)
  t.throws(() => parseArgs(['--nodes', '3']), UsageError, '--nodes needs --spawn')
  t.throws(() => parseArgs(['--cluster', '3', '--target', 'tcp://a:1']), UsageError)
  t.throws(() => parseArgs(['--cluster', '0']), UsageError)
  t.equal(parseArgs(['--spawn', 'x', '--nodes', '3']).nodes, 3)
  t.equal(parseArgs(['--cluster', '2']).cluster, 2)
})

t.test(
  'a run against a cluster target spreads each case over the nodes and reports where each connection went',
  async (t) => {
    const run = () =>
      withFakeServer([], (_s, [tcp, ws]) =>
        runSuite({
          targets: [tcp, tcp, tcp, ws, ws, ws] as string[],
          tokenSecret: SECRET,
          vectorsDir: TEST_VECTORS,
          cases: ['runner.parallel-connections', 'runner.ping-pong-capture'],
          allTranscripts: true,
          jobs: 1,
        }),
      )
    const report = await run()
    t.equal(report.exitCode, 0, JSON.stringify(report.problems))
    t.equal(report.target.nodes?.length, 3)
    for (const reporter of ['html', 'junit'] as const)
      t.match(
        renderReport(reporter, report),
        /a cluster of 3 nodes: node 1 tcp:\/\/[^;]+; node 2 tcp:\/\/[^;]+; node 3 tcp:\/\//,
        `${reporter} names the cluster and its nodes`,
      )
    const parallel = report.cases.filter((c) => c.id === 'runner.parallel-connections')
    t.equal(parallel.length, 2)
    for (const c of parallel) {
      const nodes = c.nodes?.map((p) => p.node) ?? []
      t.ok(nodes.length >= 2, `${c.transport}: several connections`)
      t.ok(new Set(nodes).size >= 2, `${c.transport}: they cross nodes (${nodes.join(',')})`)
      const connects = c.transcript.filter((e) => e.event === 'connect')
      t.equal(connects.length, nodes.length)
      for (const [i, e] of connects.entries())
        t.match(e.detail, new RegExp(`on node ${nodes[i]}/3 \\(`), 'the transcript names the node')
    }
    const again = await run()
    t.same(
      again.cases.map((c) => c.nodes),
      report.cases.map((c) => c.nodes),
      'the same selection places every connection on the same node',
    )
  },
)

/** A --spawn command that records "{node} <pid>" in `file` before it becomes the fake server. */
function recordingCommand(file: string): string {
  return `echo "{node} $$" >> "${file}"; exec ${fakeServerCommand()}`
}
const recorded = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').map(Number) as [number, number])
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('--spawn with --nodes 3 starts three nodes, restarts every one, and reports a node that dies', async (t) => {
  const file = join(t.testdir({}), 'nodes.txt')
  const target = (await openTarget(
    { spawn: recordingCommand(file), nodes: 3 },
    '',
    SECRET,
    1,
    performance.now(),
  )) as ClusterTarget
  t.teardown(() => target.stop())
  t.ok(target instanceof ClusterTarget)
  const first = recorded(file)
  t.same(
    first.map(([n]) => n),
    [1, 2, 3],
    '{node} is 1..3',
  )
  t.equal(new Set(target.info().nodes?.map((a) => a.tcp)).size, 3, 'each node listens on its own address')
  t.ok(target.canRestart)

  await target.restart('graceful')
  const second = recorded(file).slice(3)
  t.same(second.map(([n]) => n).sort(), [1, 2, 3], 'every node was started again')
  t.ok(
    first.every(([, pid]) => !alive(pid)),
    'every old node was stopped',
  )
  t.equal(target.crashes.length, 0, 'a restart is no crash')

  const node2 = second.find(([n]) => n === 2)?.[1] as number
  process.kill(node2, 'SIGKILL')
  t.ok(await target.diedSince(0, 5000), 'the death of node 2 is noticed')
  t.equal(target.crashes.length, 1)
  t.equal(target.crashes[0]?.node, 2, 'the crash names its node')
  t.same(
    recorded(file)
      .slice(6)
      .map(([n]) => n),
    [2],
    'node 2 alone was started again',
  )
  await target.stop()
  t.ok(
    recorded(file).every(([, pid]) => !alive(pid)),
    'stop() stops every node',
  )
})

t.test('a node that dies during a run is a server crash of the run, naming the node', async (t) => {
  const dir = t.testdir({})
  const report = await runSuite({
    spawn: `${fakeServerCommand(['exit-on-666'])}`,
    nodes: 2,
    vectorsDir: TEST_VECTORS,
    cases: ['runner.exit-on-ping'],
    transports: ['tcp'],
    jobs: 1,
    serverLog: join(dir, 'server.log'),
  })
  t.equal(report.exitCode, 1)
  t.equal(report.target.nodes?.length, 2)
  t.equal(report.serverCrashes.length, 1)
  t.ok(report.serverCrashes[0]?.node === 1 || report.serverCrashes[0]?.node === 2)
  t.match(report.problems, [{ kind: 'server-crash', message: /of node [12] exited/ }])
})

/** Whether nothing listens on the loopback port of `url` any more. */
function refused(url: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(Number(new URL(url).port), '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })
}

t.test('an interrupt stops a bundled cluster: its nodes, PostgreSQL and Redis', async (t) => {
  const file = join(t.testdir({}), 'nodes.txt')
  const target = await openTarget(
    {
      cluster: 1, // one node on PostgreSQL and Redis is a cluster too
      clusterCommand: [
        'sh',
        '-c',
        `echo "{node} $$ {postgres} {redis}" >> "${file}"; exec "${process.execPath}" "${builtPath(FAKE_SERVER_MAIN)}" --token-secret {secret}`,
      ],
    },
    '',
    SECRET,
    1,
    performance.now(),
  )
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
  t.equal(lines.length, 1)
  t.ok(await stopSpawnedServers(), 'what the CLI runs on SIGINT and SIGTERM')
  for (const [node, pid] of lines) t.notOk(alive(Number(pid)), `node ${node} was stopped`)
  const [, , pg, redis] = lines[0] as string[]
  t.ok(await refused(pg as string), 'PostgreSQL was stopped')
  t.ok(await refused(redis as string), 'Redis was stopped')
  await target.stop()
})

t.test('--cluster N starts PostgreSQL, Redis and N nodes sharing them, and stops all of it', async (t) => {
  const file = join(t.testdir({}), 'nodes.txt')
  const report = await runSuite({
    cluster: 2,
    // The reference server's cluster mode is not needed to test the mechanics: the fake
    // server stands in for each node and records what the runner gave it.
    clusterCommand: [
      'sh',
      '-c',
      `echo "{node} {postgres} {redis}" >> "${file}"; exec "${process.execPath}" "${builtPath(FAKE_SERVER_MAIN)}" --token-secret {secret}`,
    ],
    vectorsDir: TEST_VECTORS,
    cases: ['runner.ping-pong-capture'],
    jobs: 1,
  })
  t.equal(report.exitCode, 0, JSON.stringify(report.problems))
  t.equal(report.target.mode, 'bundled')
  t.equal(report.target.nodes?.length, 2)
  const lines = readFileSync(file, 'utf8').trim().split('\n')
  t.equal(lines.length, 2)
  const [node, pg, redis] = (lines[1] as string).split(' ')
  t.equal(node, '2')
  t.match(pg, /^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
  t.match(redis, /^redis:\/\/127\.0\.0\.1:\d+$/)
  t.equal(lines[0]?.split(' ')[1], pg, 'both nodes share one database')
  for (const url of [pg, redis] as string[]) t.ok(await refused(url), `${url} was stopped with the run`)
})
