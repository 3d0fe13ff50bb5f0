// `npm run bench:cluster`: the reference server on its embedded SQLite store
// against cluster mode (PostgreSQL + Redis) with one and three nodes, one
// table, one run, this machine.
//
// A machine with two cores cannot show what three nodes, PostgreSQL, Redis
// and a load generator do side by side, so besides rate and latency every
// row reports what its measured window cost: CPU per message of each node
// process (worker threads included), of every PostgreSQL process (the
// postmaster's children, found via /proc), of Redis and of this generator,
// and PostgreSQL's commits (bench/lib/cost.ts). Those costs, not the rates,
// are what bench/RESULTS.md builds its scale model from.
//
//   send->ack   closed loop, durable: 256 sends in flight per connection
//               (32 with 1000 connections, as bench:server) or one, TCP,
//               connections spread round robin over the nodes; each
//               connection its own user sending into its own group.
//   fan-out     one sender into a 100-member group, the 99 receivers spread
//               round robin over the nodes (the sender on the first), each
//               acking cumulatively (bench/server-fanout.ts).
//
// The generator speaks raw frames (bench/lib/imwire-peer.ts). Each
// configuration gets fresh engines; each group of rows fresh node processes.
//
// Options: --quick (shorter windows, 100 connections only), --measure-ms N,
// --conns 100,1000, --match REGEX (rows whose "<config> <test>" matches, e.g.
// "SQLite|fan-out"), --server-log FILE (everything the nodes printed),
// --imwire-cli PATH (another build's dist/src/cli/main.js).
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { makeTestToken } from '../src/client/test-token.js'
import type { ServerChild } from './lib/child.js'
import { type Cost, CostMeter, treeCpuMs } from './lib/cost.js'
import { clusterNodes, type Deployment, sqliteNode } from './lib/deployments.js'
import { RawImwirePeer } from './lib/imwire-peer.js'
import { closedLoop, cpuMsOf, type LoadResult, pooled, sleep } from './lib/load.js'
import { fmtMs, fmtRate, formatTable, type Row } from './lib/stats.js'
import { runFanout } from './server-fanout.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SECRET = 'bench-secret'
const BODY = new Uint8Array(64).fill(0x61)

interface Args {
  quick: boolean
  measureMs: number
  conns: number[]
  match: RegExp | null
  serverLog: string | null
  cli: string
}

function args(): Args {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      'measure-ms': { type: 'string' },
      conns: { type: 'string' },
      match: { type: 'string' },
      'server-log': { type: 'string' },
      'imwire-cli': { type: 'string' },
    },
  })
  const quick = values.quick ?? false
  return {
    quick,
    // PostgreSQL groups of 4096 sends take about a second each on this
    // machine: a window of one or two seconds holds a handful of commits.
    measureMs: Number(values['measure-ms'] ?? (quick ? 2000 : 5000)),
    conns: (values.conns ?? (quick ? '100' : '100,1000')).split(',').map(Number),
    match: values.match === undefined ? null : new RegExp(values.match),
    serverLog: values['server-log'] ?? null,
    cli: path.resolve(values['imwire-cli'] ?? path.join(ROOT, 'dist/src/cli/main.js')),
  }
}

const COLUMNS = [
  'config',
  'test',
  'conns',
  'rate /s',
  'p50 ms',
  'p99 ms',
  'nodes µs/msg',
  'per node µs/msg',
  'PG µs/msg',
  'PG stmts/msg',
  'PG µs/stmt',
  'msgs/commit',
  'PG µs/commit',
  'WAL B/msg',
  'Redis µs/msg',
  'nodes cpu',
  'PG cpu',
  'gen cpu',
  'notes',
]

const us = (ms: number, n: number): string => (n > 0 ? ((1000 * ms) / n).toFixed(1) : '-')
const pct = (ms: number, wallMs: number): string => `${Math.round((100 * ms) / wallMs)}%`

/**
 * One table row: rate and latency from the driver; costs per `units` (acked
 * sends, or deliveries) from the meter; `stored` messages (acked sends, or
 * the fan-out's sends) for the per-commit and WAL columns.
 */
function costRow(
  d: Deployment,
  test: string,
  conns: number,
  r: LoadResult,
  c: Cost,
  counts: { units: number; stored: number },
  note: string,
): Row {
  const { units, stored } = counts
  const clustered = d.targets.postgres !== undefined
  const nodesMs = c.nodeMs.reduce((a, b) => a + b, 0)
  return {
    config: d.name,
    test,
    conns: String(conns),
    'rate /s': fmtRate(r.rate),
    'p50 ms': fmtMs(r.p50Us),
    'p99 ms': fmtMs(r.p99Us),
    'nodes µs/msg': us(nodesMs, units),
    'per node µs/msg': c.nodeMs.length > 1 ? c.nodeMs.map((ms) => us(ms, units)).join(' / ') : '',
    'PG µs/msg': clustered ? us(c.pgMs, units) : '',
    'PG stmts/msg': clustered && stored > 0 ? (c.pgStatements / stored).toFixed(2) : '',
    'PG µs/stmt': clustered ? us(c.pgMs, c.pgStatements) : '',
    'msgs/commit': clustered && c.pgWriteCommits > 0 ? (stored / c.pgWriteCommits).toFixed(1) : '',
    'PG µs/commit': clustered ? us(c.pgMs, c.pgWriteCommits) : '',
    'WAL B/msg': clustered && stored > 0 ? Math.round(c.pgWalBytes / stored).toLocaleString('en-US') : '',
    'Redis µs/msg': clustered ? us(c.redisMs, units) : '',
    'nodes cpu': pct(nodesMs, c.wallMs),
    'PG cpu': clustered ? pct(c.pgMs, c.wallMs) : '',
    'gen cpu': pct(c.genMs, c.wallMs),
    notes: [
      clustered
        ? `${Math.round((1000 * c.pgWriteCommits) / c.wallMs)} write commits/s, xact_commit ${Math.round((1000 * c.pgXacts) / c.wallMs)}/s`
        : '',
      r.errors > 0 ? `${r.errors} errors` : '',
      note,
    ]
      .filter((s) => s !== '')
      .join('; '),
  }
}

/** Wait (bounded) until every node and PostgreSQL are idle: one row's leftovers must not bill the next. */
async function settle(d: Deployment): Promise<void> {
  const deadline = Date.now() + 10_000
  const pg = d.targets.postgres?.postmaster
  const read = () => [...d.targets.nodes.map(cpuMsOf), pg === undefined ? 0 : treeCpuMs(pg)]
  for (;;) {
    const c0 = read()
    await sleep(200)
    const c1 = read()
    if (c1.every((c, i) => c - (c0[i] as number) < 20) || Date.now() > deadline) return
  }
}

let runId = 0

/** n connections round robin over the nodes, each its own user with its own group, ready to send. */
function openPeers(d: Deployment, n: number): Promise<RawImwirePeer[]> {
  const run = `${runId++}${randomBytes(2).toString('hex')}`
  return pooled(
    Array.from({ length: n }, (_, i) => i),
    100,
    async (i) => {
      const p = await RawImwirePeer.connect('tcp', d.addrs[i % d.addrs.length] as string)
      await p.handshake(makeTestToken(SECRET, `u${run}x${i}`), 'd1')
      const conv = `c${run}x${i}`
      await p.createGroup(conv, [])
      p.startSending(conv, BODY, randomBytes(8))
      return p
    },
  )
}

function closedNote(peers: RawImwirePeer[]): string {
  const closed = peers.filter((p) => p.closed)
  if (closed.length === 0) return ''
  return `${closed.length} closed by the server (codes ${[...new Set(closed.map((p) => p.closeCode))].join(',')})`
}

async function sendAckRows(d: Deployment, a: Args, rows: Row[]): Promise<void> {
  for (const conns of a.conns) {
    const window = conns >= 1000 ? 32 : 256
    const tests = [`send->ack window ${window}`, 'send->ack 1-in-flight'].filter(
      (t) => a.match === null || a.match.test(`${d.name} ${t} ${conns}`),
    )
    if (tests.length === 0) continue
    await d.restartNodes()
    const peers = await openPeers(d, conns)
    for (const test of tests) {
      await settle(d)
      const meter = new CostMeter(d.targets)
      process.stderr.write(`  ${d.name}: ${test}, ${conns} conns\n`)
      const r = await closedLoop(peers, {
        window: test.endsWith('1-in-flight') ? 1 : window,
        warmupMs: a.quick ? 300 : 700,
        maxWarmupMs: 15_000,
        measureMs: a.measureMs,
        serverPid: d.targets.nodes[0] as number,
        hooks: meter,
      })
      const counts = { units: r.answers, stored: r.answers }
      rows.push(costRow(d, test, conns, r, meter.cost(), counts, closedNote(peers)))
      process.stderr.write(`    ${fmtRate(r.rate)}/s, p99 ${fmtMs(r.p99Us)} ms\n`)
    }
    for (const p of peers) p.close()
  }
}

async function fanoutRow(d: Deployment, a: Args, rows: Row[]): Promise<void> {
  if (a.match !== null && !a.match.test(`${d.name} fan-out`)) return
  await d.restartNodes()
  await settle(d)
  const meter = new CostMeter(d.targets)
  process.stderr.write(`  ${d.name}: fan-out\n`)
  const f = await runFanout(d.nodes[0] as ServerChild, SECRET, {
    measureMs: a.measureMs,
    members: 100,
    receiverAddrs: d.addrs,
    hooks: meter,
  })
  const c = meter.cost()
  const perSend = (ms: number) => us(ms, f.sends)
  const nodesMs = c.nodeMs.reduce((x, y) => x + y, 0)
  const note =
    `deliveries/s to 99 receivers, send->deliver latency; ${fmtRate((1000 * f.sends) / c.wallMs)} sends/s; ` +
    `per send: nodes ${perSend(nodesMs)} µs` +
    (d.targets.postgres !== undefined ? `, PG ${perSend(c.pgMs)} µs` : '') +
    (f.notes.includes('closed') ? `; ${f.notes.slice(f.notes.lastIndexOf(';') + 2)}` : '')
  const counts = { units: f.load.answers, stored: f.sends }
  rows.push(costRow(d, 'fan-out 100-member group', 100, f.load, c, counts, note))
  process.stderr.write(`    ${fmtRate(f.load.rate)} deliveries/s\n`)
}

/** Lines at pino level warn (40) or above, and anything that is not a pino line (stack traces, crashes). */
function suspicious(log: string[]): string[] {
  return log.filter((l) => {
    const m = /"level":(\d+)/.exec(l)
    return m === null ? !/\{"event":"listening"|^=== /.test(l) : Number(m[1]) >= 40
  })
}

async function main(): Promise<void> {
  const a = args()
  const rows: Row[] = []
  const started = Date.now()
  const load0 = os.loadavg()[0] as number
  const logs: string[] = []
  const configs: Array<[string, () => Promise<Deployment>]> = [
    ['SQLite, 1 node', () => sqliteNode(a.cli, SECRET)],
    ['PostgreSQL, 1 node', () => clusterNodes(a.cli, SECRET, 1)],
    ['PostgreSQL, 3 nodes', () => clusterNodes(a.cli, SECRET, 3)],
  ]
  const probes: string[] = []
  for (const [name, start] of configs) {
    if (a.match !== null && !a.match.test(`${name} send->ack window 1-in-flight fan-out`)) continue
    const d = await start()
    process.stderr.write(`${d.name}\n`)
    try {
      if (d.counters !== null) {
        const rtt = d.counters.roundTripMs()
        probes.push(`${d.name}: commit ${d.counters.commitLatencyMs().toFixed(2)} ms, SELECT 1 ${rtt.toFixed(3)} ms`)
      }
      await sendAckRows(d, a, rows)
      await fanoutRow(d, a, rows)
    } finally {
      await d.stop()
      logs.push(`=== ${d.name}`, ...d.log)
    }
  }
  const load1 = os.loadavg()[0] as number
  const cpus = os.cpus()
  process.stdout.write(
    `\nimwire cluster benchmark — ${cpus.length} x ${cpus[0]?.model ?? '?'}, node ${process.version}, ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s, load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}\n` +
      'Durable stores: SQLite WAL synchronous=FULL; PostgreSQL fsync + synchronous_commit on. Group commit in both. ' +
      'TCP, body 64 bytes.\n' +
      'rate = acked sends/s (fan-out: deliveries/s). µs/msg = CPU microseconds per acked send (fan-out: per delivery) ' +
      'over the measured window:\n' +
      'nodes = sum over node processes; PG = all PostgreSQL processes; stmts = statements run by the nodes ' +
      '(pg_stat_statements, BEGIN/COMMIT included; per stored message);\n' +
      'commits = write transactions (transaction-id horizon); WAL = bytes per stored message; cpu % = of one core.\n' +
      `PostgreSQL on the idle server before the rows, p50 of a one-row write transaction and of a round trip: ${probes.join('; ')}.\n\n`,
  )
  process.stdout.write(`${formatTable(COLUMNS, rows)}\n`)
  const bad = suspicious(logs)
  process.stdout.write(
    `\nnode logs: ${logs.length} lines, ${bad.length} at warn or above / not from the logger` +
      (bad.length > 0 ? `:\n${bad.slice(0, 20).join('\n')}\n` : '\n'),
  )
  if (a.serverLog !== null) writeFileSync(a.serverLog, `${logs.join('\n')}\n`)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:cluster failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
