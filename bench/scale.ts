// `npm run bench:scale`: connection scale of the reference server against the
// aedes MQTT broker, one table, one run, this machine.
//
//   idle         N connections (half TCP, half WebSocket) past Welcome, each
//                client pinging once per heartbeat [HB-3]; server RSS growth
//                per connection and server CPU per connection per second.
//                aedes: the same number of MQTT connections with keepalive =
//                the heartbeat, PINGREQ once per period.
//   storm        N clients on a SQLite server; some keep sending (acks
//                counted); the server is SIGTERMed (Close 3001 +
//                retry_after_ms) and restarted on the same data directory and
//                ports; clients reconnect with the jittered backoff of [RTY-3]
//                honouring retry_after_ms, or immediately. Time until 50 / 99 /
//                100 % are past Welcome again, refusals on the way, peak RSS of
//                the restarted server; then every sender reads its history and
//                each acked seq must be there.
//   live         N connected, S of them sending at a paced total rate into
//                2-member groups; send->ack and send->deliver from due time.
//   durable      send->ack with 100 and 1000 connections, imwire (SQLite)
//                against aedes (in memory), from bench/server.ts (durableRows).
//
// Load runs in child processes (bench/lib/scale-client.ts), one per block of
// --per-child connections, each bound to its own source address 127.0.0.x so
// no address runs out of ephemeral ports. The server and every child are
// started through `sh -c 'ulimit -n ...; exec ...'`: the file-descriptor limit
// is raised as far as the hard limit allows, and sizes that cannot fit under it
// are reported as such and replaced by the largest that does.
//
// Options: --idle 10000,50000,100000  --storm 50000,100000  --live 100000
//   --live-senders 10000 --live-rate 5000 --heartbeat-ms 5000 (idle rows' and
//   storm's default heartbeat; the spec default is 30000) --idle-ms 15000
//   --per-child 5000 --only idle,storm,live,durable --no-aedes
//   --server-arg 'OPTS' (extra imwire serve options, e.g. '--max-handshakes 1000')
//   --cpu-prof DIR (imwire server) --heap-snapshot (imwire server, end of each
//   idle window, into the checkout) --node-arg FLAG --imwire-cli PATH
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ServerChild, spawnServer } from './lib/child.js'
import { cpuMsOf, sleep } from './lib/load.js'
import type { ScaleCommand, ScaleStats } from './lib/scale-client.js'
import { fmtMs, formatTable, type Row } from './lib/stats.js'
import { durableRows } from './server.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SECRET = 'bench-secret'
const WANT_FDS = 1_048_576
/** Descriptors the server process needs besides its connections (node, listeners, SQLite, logs). */
const FD_RESERVE = 150

interface Args {
  idle: number[]
  storm: number[]
  live: number
  liveSenders: number
  liveRate: number
  heartbeatMs: number
  idleMs: number
  perChild: number
  only: Set<string> | null
  aedes: boolean
  nodeArgs: string[]
  imwireCli: string
  /** Extra `imwire serve` options (--server-arg, repeatable), e.g. --max-handshakes 1000. */
  serverArgs: string[]
  /** Heap snapshot of the imwire server at the end of each idle window (--heap-snapshot). */
  heapSnapshot: boolean
}

function parseArgs(argv: string[]): Args {
  const list = (v: string | undefined) => (v ?? '').split(',').filter(Boolean).map(Number)
  const a: Args = {
    idle: [10_000, 50_000, 100_000],
    storm: [50_000, 100_000],
    live: 100_000,
    liveSenders: 10_000,
    liveRate: 5_000,
    heartbeatMs: 5_000,
    idleMs: 15_000,
    perChild: 5_000,
    only: null,
    aedes: true,
    nodeArgs: [],
    imwireCli: path.join(ROOT, 'dist/src/cli/main.js'),
    heapSnapshot: false,
    serverArgs: [],
  }
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]
    if (v === '--idle') a.idle = list(argv[++i])
    else if (v === '--storm') a.storm = list(argv[++i])
    else if (v === '--live') a.live = Number(argv[++i])
    else if (v === '--live-senders') a.liveSenders = Number(argv[++i])
    else if (v === '--live-rate') a.liveRate = Number(argv[++i])
    else if (v === '--heartbeat-ms') a.heartbeatMs = Number(argv[++i])
    else if (v === '--idle-ms') a.idleMs = Number(argv[++i])
    else if (v === '--per-child') a.perChild = Number(argv[++i])
    else if (v === '--only') a.only = new Set((argv[++i] ?? '').split(','))
    else if (v === '--no-aedes') a.aedes = false
    else if (v === '--cpu-prof') a.nodeArgs.push('--cpu-prof', '--cpu-prof-dir', path.resolve(argv[++i] ?? 'prof'))
    else if (v === '--node-arg') a.nodeArgs.push(argv[++i] ?? '')
    else if (v === '--server-arg') a.serverArgs.push(...(argv[++i] ?? '').split(' '))
    else if (v === '--heap-snapshot') {
      a.heapSnapshot = true
      a.nodeArgs.push('--heapsnapshot-signal=SIGUSR2')
    } else if (v === '--imwire-cli') a.imwireCli = path.resolve(argv[++i] ?? '')
  }
  return a
}

/** The descriptor limit a process started through ulimitWrap gets: WANT_FDS if allowed, else the hard limit. */
function reachableFds(): { soft: number; hard: number } {
  const out = execFileSync('sh', ['-c', `${ULIMIT}; ulimit -Sn; ulimit -Hn`], { encoding: 'utf8' })
    .trim()
    .split('\n')
  const num = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s))
  return { soft: num(out[0]), hard: num(out[1]) }
}

const ULIMIT = `ulimit -n ${WANT_FDS} 2>/dev/null || ulimit -n $(ulimit -Hn)`
const wrap = (cmd: string, args: string[]): [string, string[]] => [
  'sh',
  ['-c', `${ULIMIT}; exec "$0" "$@"`, cmd, ...args],
]

/** Two free loopback ports (the storm restarts the server on the same ones). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((r) => {
          const s = net.createServer()
          s.listen(0, '127.0.0.1', () => r(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  return ports
}

/** One load child: requests over IPC, answered in order. */
class Gen {
  readonly proc: ChildProcess
  private readonly waiting: Array<(m: { ok: boolean; result?: unknown; error?: string }) => void> = []
  readonly ready: Promise<void>

  constructor(readonly localAddress: string) {
    const [cmd, args] = wrap(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/lib/scale-client.ts')])
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let readyResolve: () => void = () => {}
    this.ready = new Promise((r) => {
      readyResolve = r
    })
    this.proc.on('message', (m: { ready?: boolean; ok: boolean; result?: unknown; error?: string }) => {
      if (m.ready === true) readyResolve()
      else this.waiting.shift()?.(m)
    })
  }

  async request<T>(cmd: ScaleCommand): Promise<T> {
    const answer = new Promise<{ ok: boolean; result?: unknown; error?: string }>((r) => this.waiting.push(r))
    this.proc.send(cmd)
    const m = await answer
    if (!m.ok) throw new Error(`load child ${this.localAddress}: ${m.error}`)
    return m.result as T
  }

  cpuMs(): number {
    return cpuMsOf(this.proc.pid as number)
  }

  stop(): void {
    this.proc.kill('SIGKILL')
  }
}

interface Fleet {
  gens: Gen[]
  counts: number[]
}

async function fleet(n: number, perChild: number): Promise<Fleet> {
  const k = Math.ceil(n / perChild)
  const gens = Array.from({ length: k }, (_, i) => new Gen(`127.0.0.${2 + i}`))
  await Promise.all(gens.map((g) => g.ready))
  const counts = gens.map((_, i) => Math.min(perChild, n - i * perChild))
  return { gens, counts }
}

const stopFleet = (f: Fleet): void => {
  for (const g of f.gens) g.stop()
}
const genCpuMs = (f: Fleet): number => f.gens.reduce((s, g) => s + g.cpuMs(), 0)

let runId = 0

async function connectFleet(
  f: Fleet,
  proto: 'imwire' | 'mqtt',
  server: ServerChild,
  heartbeatMs: number,
): Promise<{ ok: number; failed: number; ms: number; errors: string[] }> {
  const t0 = Date.now()
  const tag = `s${runId++}${Date.now().toString(36)}`
  const res = await Promise.all(
    f.gens.map((g, i) =>
      g.request<{ ok: number; failed: number; errors: Array<[string, number]> }>({
        cmd: 'connect',
        proto,
        tcp: server.tcp as string,
        ws: server.ws as string,
        localAddress: g.localAddress,
        count: f.counts[i] as number,
        tag: `${tag}g${i}`,
        secret: SECRET,
        heartbeatMs,
        // Handshakes in progress per child: under the server's per-address cap (2000).
        concurrency: 500,
      }),
    ),
  )
  const errors = new Map<string, number>()
  for (const r of res) for (const [m, c] of r.errors) errors.set(m, (errors.get(m) ?? 0) + c)
  return {
    ok: res.reduce((s, r) => s + r.ok, 0),
    failed: res.reduce((s, r) => s + r.failed, 0),
    ms: Date.now() - t0,
    errors: [...errors.entries()].map(([m, c]) => `${c}x ${m}`),
  }
}

const kib = (b: number) => (b / 1024).toFixed(1)
const mib = (b: number) => (b / 2 ** 20).toFixed(0)

function spawnImwire(
  args: Args,
  opts: { dataDir: string; tcpPort?: number; wsPort?: number; heartbeatMs: number },
): Promise<ServerChild> {
  const [cmd, argv] = wrap(process.execPath, [
    ...args.nodeArgs,
    args.imwireCli,
    'serve',
    '--tcp',
    `127.0.0.1:${opts.tcpPort ?? 0}`,
    '--ws',
    `127.0.0.1:${opts.wsPort ?? 0}/imwire`,
    '--data-dir',
    opts.dataDir,
    '--token-secret',
    SECRET,
    '--heartbeat-default-ms',
    String(opts.heartbeatMs),
    '--log-level',
    'warn',
    ...args.serverArgs,
  ])
  return spawnServer(cmd, argv, { want: ['tcp', 'ws'], timeoutMs: 60_000 })
}

function spawnAedes(): Promise<ServerChild> {
  const [cmd, argv] = wrap(process.execPath, [...process.execArgv, path.join(ROOT, 'bench/lib/aedes-broker.ts')])
  return spawnServer(cmd, argv, { want: ['tcp', 'ws'] })
}

const COLUMNS = [
  'server',
  'test',
  'conns',
  'RSS/conn',
  'srv CPU',
  'µs CPU/conn/s',
  'rate /s',
  'p50 ms',
  'p99 ms',
  'gen cpu',
  'notes',
]

/** Sizes clamped to what fits, each once, with the sizes asked for it. */
function sizes(asked: number[], fit: number): Array<{ size: number; asked: number[] }> {
  const out: Array<{ size: number; asked: number[] }> = []
  for (const n of asked) {
    const size = Math.min(n, fit)
    const e = out.find((o) => o.size === size)
    if (e === undefined) out.push({ size, asked: [n] })
    else e.asked.push(n)
  }
  return out
}

const doesNotFit = (asked: number[], size: number): string => {
  const over = asked.filter((n) => n > size)
  return over.length === 0
    ? ''
    : `asked ${over.map((n) => n.toLocaleString('en-US')).join(', ')}: does not fit the fd limit (header)`
}

/** Idle rows: RSS growth per connection and heartbeat CPU, for one server kind. */
async function idleRow(
  args: Args,
  name: 'imwire' | 'aedes',
  size: number,
  asked: number[],
  rows: Row[],
): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'imwire-scale-'))
  const server =
    name === 'imwire' ? await spawnImwire(args, { dataDir, heartbeatMs: args.heartbeatMs }) : await spawnAedes()
  const pid = server.proc.pid as number
  const f = await fleet(size, args.perChild)
  const proto = name === 'imwire' ? 'imwire' : 'mqtt'
  try {
    // Warm the code paths, so the delta is connections, not JIT and caches.
    const warm = await fleet(200, args.perChild)
    await connectFleet(warm, proto, server, args.heartbeatMs)
    stopFleet(warm)
    await sleep(1500)
    const before = server.rss()
    const c = await connectFleet(f, proto, server, args.heartbeatMs)
    process.stderr.write(`  ${name} idle ${size}: ${c.ok} connected in ${c.ms} ms ${c.errors.join('; ')}\n`)
    // Let the connect burst's garbage go and every client reach its ping rhythm.
    await sleep(Math.max(3000, args.heartbeatMs))
    const s0 = cpuMsOf(pid)
    const g0 = genCpuMs(f)
    const t0 = performance.now()
    // RSS moves with each collection; the median of the window's samples is steadier than one reading.
    const rss: number[] = []
    while (performance.now() - t0 < args.idleMs) {
      await sleep(500)
      rss.push(server.rss())
    }
    const dt = performance.now() - t0
    const srv = cpuMsOf(pid) - s0
    const gen = genCpuMs(f) - g0
    rss.sort((a, b) => a - b)
    const after = rss[rss.length >> 1] as number
    const st = await Promise.all(f.gens.map((g) => g.request<ScaleStats>({ cmd: 'stats' })))
    const stillOpen = st.reduce((s, r) => s + r.open, 0)
    const codes: Record<string, number> = {}
    for (const r of st) for (const [k, v] of Object.entries(r.codes)) codes[k] = (codes[k] ?? 0) + v
    if (args.heapSnapshot && name === 'imwire') {
      // After the open count: writing the snapshot stalls the server for seconds
      // (past 1.5 heartbeats at 5 s). --heapsnapshot-signal: the server writes Heap.*.heapsnapshot into its cwd (this checkout).
      server.proc.kill('SIGUSR2')
      await sleep(30_000)
    }
    const notes: string[] = [`RSS ${mib(before)} -> ${mib(after)} MiB`]
    if (doesNotFit(asked, size) !== '') notes.push(doesNotFit(asked, size))
    if (c.failed > 0) notes.push(`${c.failed} failed to connect (${c.errors.join('; ')})`)
    if (stillOpen < c.ok) {
      const byCode = Object.entries(codes)
        .map(([k, v]) => `${v}x ${k}`)
        .join(', ')
      const late = st.reduce((n, r) => n + r.closedLate, 0)
      const longest = Math.max(...st.map((r) => r.closedMaxGap))
      notes.push(
        `${c.ok - stillOpen} closed during the idle window (${byCode}; ${late} of them after the generator ` +
          `let 1.5 heartbeats pass without a Ping, longest gap ${longest} ms)`,
      )
    }
    notes.push(`generator tick late by at most ${Math.max(...st.map((r) => r.tickLagMax))} ms`)
    rows.push({
      server: name,
      test: `idle, heartbeat ${args.heartbeatMs / 1000} s`,
      conns: c.ok.toLocaleString('en-US'),
      'RSS/conn': `${kib((after - before) / c.ok)} KiB`,
      'srv CPU': `${((100 * srv) / dt).toFixed(1)}%`,
      'µs CPU/conn/s': ((srv * 1000) / (dt / 1000) / c.ok).toFixed(2),
      'gen cpu': `${((100 * gen) / dt).toFixed(0)}%`,
      notes: notes.join('; '),
    })
    process.stderr.write(`  ${name} idle ${size}: ${JSON.stringify(rows[rows.length - 1])}\n`)
  } finally {
    stopFleet(f)
    await server.stop(15_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number)

async function stormRow(
  args: Args,
  size: number,
  asked: number[],
  policy: 'jitter' | 'immediate',
  rows: Row[],
): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'imwire-storm-'))
  const [tcpPort, wsPort] = await freePorts(2)
  let server = await spawnImwire(args, { dataDir, tcpPort, wsPort, heartbeatMs: 30_000 })
  const f = await fleet(size, args.perChild)
  try {
    const c = await connectFleet(f, 'imwire', server, 30_000)
    process.stderr.write(`  storm ${policy} ${size}: ${c.ok} connected in ${c.ms} ms ${c.errors.join('; ')}\n`)
    const senders = 200
    await Promise.all(
      f.gens.map((g) => g.request({ cmd: 'senders', count: Math.ceil(senders / f.gens.length), body: 64 })),
    )
    await sleep(1000)
    const inStorm = (
      await Promise.all(f.gens.map((g) => g.request<{ inStorm: number }>({ cmd: 'storm', policy })))
    ).reduce((s, r) => s + r.inStorm, 0)
    const t0 = Date.now()
    await server.stop(30_000)
    const stoppedMs = Date.now() - t0
    server = await spawnImwire(args, { dataDir, tcpPort, wsPort, heartbeatMs: 30_000 })
    const upMs = Date.now() - t0
    const pid = server.proc.pid as number
    const s0 = cpuMsOf(pid)
    const g0 = genCpuMs(f)
    let peak = server.rss()
    const deadline = Date.now() + 180_000
    for (;;) {
      await sleep(250)
      peak = Math.max(peak, server.rss())
      const st = await Promise.all(f.gens.map((g) => g.request<ScaleStats>({ cmd: 'stats' })))
      if (st.reduce((s, r) => s + r.open, 0) >= inStorm || Date.now() > deadline) break
    }
    const wall = Date.now() - t0
    const srvCpu = cpuMsOf(pid) - s0
    const genCpu = genCpuMs(f) - g0
    const v = await Promise.all(
      f.gens.map((g) =>
        g.request<{
          checked: number
          acked: number
          missing: number
          backs: number[]
          storm: {
            refused: number
            tryLater: number
            otherClose: number
            attempts: number
            codes: Record<string, number>
          }
        }>({ cmd: 'verify' }),
      ),
    )
    const backs = v
      .flatMap((r) => r.backs)
      .map((b) => (b === 0 ? Number.POSITIVE_INFINITY : b - t0))
      .sort((a, b) => a - b)
    const sum = (k: 'refused' | 'tryLater' | 'otherClose' | 'attempts') => v.reduce((s, r) => s + r.storm[k], 0)
    const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'never')
    const acked = v.reduce((s, r) => s + r.acked, 0)
    const other: Record<string, number> = {}
    for (const r of v) for (const [k, n] of Object.entries(r.storm.codes)) other[k] = (other[k] ?? 0) + n
    const otherNote = Object.entries(other)
      .map(([k, n]) => `${n}x ${k === '0' ? 'reset before a Close' : k}`)
      .join(', ')
    const missing = v.reduce((s, r) => s + r.missing, 0)
    rows.push({
      server: 'imwire',
      test: `reconnect storm, ${policy === 'jitter' ? 'jittered backoff [RTY-3]' : 'all immediately'}`,
      conns: inStorm.toLocaleString('en-US'),
      'srv CPU': `${((100 * srvCpu) / wall).toFixed(0)}%`,
      'gen cpu': `${((100 * genCpu) / wall).toFixed(0)}%`,
      notes:
        `back past Welcome 50% ${sec(pct(backs, 50))}, 99% ${sec(pct(backs, 99))}, 100% ${sec(pct(backs, 100))} after SIGTERM ` +
        `(old server gone ${sec(stoppedMs)}, new listening ${sec(upMs)}); attempts ${sum('attempts')}: ` +
        `${sum('refused')} refused (ECONNREFUSED), ${sum('tryLater')} closed 3006, ${sum('otherClose')} other${otherNote === '' ? '' : ` (${otherNote})`}; ` +
        `peak RSS ${mib(peak)} MiB; acked before SIGTERM ${acked} by ${v.reduce((s, r) => s + r.checked, 0)} senders, ` +
        `missing after restart ${missing}${doesNotFit(asked, size) === '' ? '' : `; ${doesNotFit(asked, size)}`}`,
    })
    process.stderr.write(`  ${JSON.stringify(rows[rows.length - 1])}\n`)
  } finally {
    stopFleet(f)
    await server.stop(15_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function liveRow(args: Args, fit: number, rows: Row[]): Promise<void> {
  const size = Math.min(args.live, fit)
  // The asked share of senders (10k of 100k) kept when fewer connections fit.
  const senders = Math.min(Math.round((args.liveSenders * size) / args.live), Math.floor(size / 2))
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'imwire-live-'))
  const server = await spawnImwire(args, { dataDir, heartbeatMs: 30_000 })
  const pid = server.proc.pid as number
  const f = await fleet(size, args.perChild)
  try {
    const c = await connectFleet(f, 'imwire', server, 30_000)
    process.stderr.write(`  live ${size}: ${c.ok} connected in ${c.ms} ms\n`)
    const warmupMs = 2000
    const measureMs = 8000
    const k = f.gens.length
    const pending = Promise.all(
      f.gens.map((g) =>
        g.request<{ pairs: number; ack: number[]; dlv: number[]; errors: number; genCpu: number }>({
          cmd: 'live',
          senders: Math.ceil(senders / k),
          ratePerSec: args.liveRate / k,
          warmupMs,
          measureMs,
        }),
      ),
    )
    // Setup (group creation) takes a while; measure server CPU over the children's window.
    await sleep(warmupMs + 2000)
    const s0 = cpuMsOf(pid)
    const t0 = performance.now()
    await sleep(measureMs - 3000)
    const srv = (100 * (cpuMsOf(pid) - s0)) / (performance.now() - t0)
    const res = await pending
    const ack = res.flatMap((r) => r.ack).sort((a, b) => a - b)
    const dlv = res.flatMap((r) => r.dlv).sort((a, b) => a - b)
    const pairs = res.reduce((s, r) => s + r.pairs, 0)
    const genCpu = res.reduce((s, r) => s + r.genCpu, 0)
    for (const [test, s] of [
      ['live send->ack, paced', ack],
      ['live send->deliver, paced', dlv],
    ] as const)
      rows.push({
        server: 'imwire',
        test,
        conns: c.ok.toLocaleString('en-US'),
        'srv CPU': `${srv.toFixed(0)}%`,
        'rate /s': Math.round(s.length / (measureMs / 1000)).toLocaleString('en-US'),
        'p50 ms': fmtMs(pct(s, 50)),
        'p99 ms': fmtMs(pct(s, 99)),
        'gen cpu': `${genCpu.toFixed(0)}%`,
        notes: `${doesNotFit([args.live], size)}${doesNotFit([args.live], size) ? '; ' : ''}${pairs} senders (each into a group with one receiver) of ${c.ok} connected, ${args.liveRate}/s offered; latency from due time`,
      })
    process.stderr.write(`  ${JSON.stringify(rows.slice(-2))}\n`)
  } finally {
    stopFleet(f)
    await server.stop(15_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const part = (p: string) => args.only === null || args.only.has(p)
  const fds = reachableFds()
  const fit = Number.isFinite(fds.soft) ? fds.soft - FD_RESERVE : Number.MAX_SAFE_INTEGER
  const uid = process.getuid?.() ?? -1
  const rows: Row[] = []
  const started = Date.now()
  const load0 = os.loadavg()[0] as number
  process.stderr.write(
    `fd limit for server and load children: ${fds.soft} (hard ${fds.hard}); most connections: ${fit}\n`,
  )
  if (part('idle'))
    for (const { size, asked } of sizes(args.idle, fit)) {
      await idleRow(args, 'imwire', size, asked, rows)
      if (args.aedes) await idleRow(args, 'aedes', size, asked, rows)
    }
  if (part('storm'))
    for (const { size, asked } of sizes(args.storm, fit))
      for (const policy of ['jitter', 'immediate'] as const) await stormRow(args, size, asked, policy, rows)
  if (part('live')) await liveRow(args, fit, rows)
  if (part('durable')) {
    for (const r of await durableRows([100, 1000], 1500))
      rows.push({
        server: r.server as string,
        test: `durable ${r.test}`,
        conns: r.conns as string,
        'srv CPU': r['srv cpu'] as string,
        'rate /s': r['rate /s'] as string,
        'p50 ms': r['p50 ms'] as string,
        'p99 ms': r['p99 ms'] as string,
        'gen cpu': r['gen cpu'] as string,
        notes: `${r.transport}${r.notes ? `; ${r.notes}` : ''}`,
      })
  }
  const cpus = os.cpus()
  process.stdout.write(
    `\nimwire connection-scale benchmark — ${cpus.length} x ${cpus[0]?.model ?? '?'}, node ${process.version}, ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s, load average ${load0.toFixed(1)} -> ${(os.loadavg()[0] as number).toFixed(1)}\n` +
      `fd limit (RLIMIT_NOFILE) reachable by the server and each load child: ${fds.soft} (hard ${fds.hard}, uid ${uid}); ` +
      `at most ${fit} connections fit one server process.\n` +
      `idle rows: clients ping every heartbeat (${args.heartbeatMs} ms, server --heartbeat-default-ms); ` +
      'CPU per connection per second scales with 1/heartbeat.\n' +
      'srv CPU / gen cpu = % of one core used by the server / all load children.\n\n',
  )
  process.stdout.write(`${formatTable(COLUMNS, rows)}\n`)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
