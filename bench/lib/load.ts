// Load shapes: closed loop with a window per connection, open loop at a fixed
// offered rate, and the CPU bookkeeping around them.
import { readFileSync } from 'node:fs'
import { nowUs, Samples } from './stats.js'

/** What a driver needs from a connection (imwire or MQTT). */
export interface SenderPeer {
  send(sentAtUs: number): void
  readonly inflight: number
  onAnswer: (sentAtUs: number, ok: boolean) => void
  closed: boolean
}

export interface LoadResult {
  /** Answers (acks) per second during the measurement window. */
  rate: number
  p50Us: number
  p99Us: number
  answers: number
  errors: number
  /** Server child CPU use over the window, % of one core. */
  serverCpu: number
  /** Generator CPU use over the window, % of one core. */
  genCpu: number
}

/**
 * Extra bookkeeping around a measurement window (other processes' CPU,
 * database counters): start() as it opens, stop() as it closes.
 */
export interface WindowHooks {
  start(): void
  stop(): void
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** utime + stime of a process, in ms. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[11], fields[12] = utime, stime (clock ticks; 100 Hz on Linux)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

class CpuWindow {
  private readonly pid: number
  private s0 = 0
  private g0 = 0
  private t0 = 0
  constructor(pid: number) {
    this.pid = pid
  }
  start(): void {
    this.s0 = cpuMsOf(this.pid)
    const u = process.cpuUsage()
    this.g0 = (u.user + u.system) / 1000
    this.t0 = performance.now()
  }
  stop(): { server: number; gen: number } {
    const dt = performance.now() - this.t0
    const u = process.cpuUsage()
    return {
      server: (100 * (cpuMsOf(this.pid) - this.s0)) / dt,
      gen: (100 * ((u.user + u.system) / 1000 - this.g0)) / dt,
    }
  }
}

async function drain(peers: SenderPeer[], maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs
  while (Date.now() < deadline && peers.some((p) => !p.closed && p.inflight > 0)) await sleep(20)
}

/**
 * Closed loop: every connection keeps `window` sends in flight, sending the
 * next as each answer arrives. Measures answers and latency between warmup
 * and the end of the window.
 */
export async function closedLoop(
  peers: SenderPeer[],
  opts: {
    window: number
    warmupMs: number
    maxWarmupMs: number
    measureMs: number
    serverPid: number
    hooks?: WindowHooks
  },
): Promise<LoadResult> {
  let phase: 'warmup' | 'measure' | 'drain' = 'warmup'
  const samples = new Samples()
  let answers = 0
  let errors = 0
  for (const p of peers) {
    p.onAnswer = (t, ok) => {
      const now = nowUs()
      if (phase === 'measure') {
        answers++
        if (!ok) errors++
        samples.add(now - t)
      }
      if (phase !== 'drain') p.send(now)
    }
  }
  const t0 = nowUs()
  let initial = 0
  for (const p of peers) {
    const inner = p.onAnswer
    p.onAnswer = (t, ok) => {
      if (t === t0) initial++
      inner(t, ok)
    }
  }
  for (const p of peers) for (let i = 0; i < opts.window; i++) p.send(t0)
  // Warm up at least warmupMs and until the first window of every
  // connection came back: with 1000 x 256 in flight that takes seconds, and
  // measuring before it would count an empty pipe.
  const total = peers.length * opts.window
  const warmDeadline = Date.now() + opts.maxWarmupMs
  await sleep(opts.warmupMs)
  while (initial < total && Date.now() < warmDeadline) await sleep(20)
  const cpu = new CpuWindow(opts.serverPid)
  opts.hooks?.start()
  phase = 'measure'
  const start = performance.now()
  cpu.start()
  await sleep(opts.measureMs)
  phase = 'drain'
  const elapsed = (performance.now() - start) / 1000
  const c = cpu.stop()
  opts.hooks?.stop()
  await drain(peers, 10_000)
  const [p50, p99] = samples.percentiles([50, 99])
  return {
    rate: answers / elapsed,
    p50Us: p50 as number,
    p99Us: p99 as number,
    answers,
    errors,
    serverCpu: c.server,
    genCpu: c.gen,
  }
}

/**
 * Open loop: sends are offered at `ratePerSec` in total, round robin over the
 * connections, whatever the answers do. Latency counts from when each send
 * was due, not when it left, so a stalled server cannot hide its stall
 * (no coordinated omission).
 */
export async function openLoop(
  peers: SenderPeer[],
  opts: { ratePerSec: number; warmupMs: number; measureMs: number; serverPid: number },
): Promise<LoadResult> {
  const samples = new Samples()
  let measuring = false
  let answers = 0
  let errors = 0
  for (const p of peers) {
    p.onAnswer = (t, ok) => {
      if (!measuring) return
      answers++
      if (!ok) errors++
      samples.add(nowUs() - t)
    }
  }
  const perUs = opts.ratePerSec / 1e6
  const t0 = nowUs()
  let issued = 0
  let next = 0
  let running = true
  const cpu = new CpuWindow(opts.serverPid)
  let start = 0
  const pace = () => {
    if (!running) return
    const now = nowUs()
    const due = Math.floor((now - t0) * perUs)
    while (issued < due) {
      const intended = t0 + issued / perUs
      const p = peers[next] as SenderPeer
      next = (next + 1) % peers.length
      p.send(intended)
      issued++
    }
    setTimeout(pace, 1)
  }
  pace()
  await sleep(opts.warmupMs)
  measuring = true
  start = performance.now()
  cpu.start()
  await sleep(opts.measureMs)
  const elapsed = (performance.now() - start) / 1000
  const c = cpu.stop()
  running = false
  measuring = false
  await drain(peers, 10_000)
  const [p50, p99] = samples.percentiles([50, 99])
  return {
    rate: answers / elapsed,
    p50Us: p50 as number,
    p99Us: p99 as number,
    answers,
    errors,
    serverCpu: c.server,
    genCpu: c.gen,
  }
}

/** Run f over items with at most `limit` at a time. */
export async function pooled<T, R>(items: T[], limit: number, f: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

export { sleep }
