// Fan-out part of `npm run bench:server`: one sender into a group of
// `members` users (sender included), every other member online with one
// device that acks cumulatively once per event-loop turn. The sender keeps up
// to 256 sends in flight but never runs more than LAG messages ahead of the
// slowest receiver, so the run measures delivery throughput instead of
// tripping the server's slow-consumer close [FLW-3] (max_backlog 4096).
import { randomBytes } from 'node:crypto'
import { makeTestToken } from '../src/client/test-token.js'
import type { ServerChild } from './lib/child.js'
import { RawImwirePeer } from './lib/imwire-peer.js'
import { cpuMsOf, type LoadResult, pooled, sleep, type WindowHooks } from './lib/load.js'
import { nowUs, Samples } from './lib/stats.js'

const LAG = 2000
const WINDOW = 256

let fanoutRun = 0

export async function runFanout(
  server: ServerChild,
  secret: string,
  opts: {
    measureMs: number
    members: number
    /** TCP addresses the receivers connect to, round robin (default: the server's); the sender uses the server's. */
    receiverAddrs?: string[]
    hooks?: WindowHooks
  },
): Promise<{ load: LoadResult; notes: string; sends: number }> {
  const run = `f${fanoutRun++}${randomBytes(2).toString('hex')}`
  const addr = server.tcp as string
  const receiverAddrs = opts.receiverAddrs ?? [addr]
  const conv = `g${run}`
  const convBytes = new TextEncoder().encode(conv)
  const receiverIds = Array.from({ length: opts.members - 1 }, (_, i) => `r${run}x${i}`)
  const receivers = await pooled(receiverIds, 100, async (user, i) => {
    const p = await RawImwirePeer.connect('tcp', receiverAddrs[i % receiverAddrs.length] as string)
    await p.handshake(makeTestToken(secret, user), 'd1')
    return p
  })
  const sender = await RawImwirePeer.connect('tcp', addr)
  await sender.handshake(makeTestToken(secret, `s${run}`), 'd1')
  await sender.createGroup(conv, receiverIds)
  // Membership notices (JOINED) arrive before any message; let them pass in setup mode.
  await sleep(300)

  const sentAt: number[] = [0]
  let sent = 0
  const delivered = new Array<number>(receivers.length).fill(0)
  const dirty = new Set<number>()
  let measuring = false
  let running = true
  let deliveries = 0
  const samples = new Samples()
  let flushScheduled = false

  const minDelivered = () => {
    let m = Number.POSITIVE_INFINITY
    for (const d of delivered) if (d < m) m = d
    return m
  }
  const pump = () => {
    if (!running) return
    const low = minDelivered()
    while (sender.inflight < WINDOW && sent - low < LAG) {
      sent++
      sentAt[sent] = nowUs()
      sender.send(sentAt[sent] as number)
    }
  }
  const flush = () => {
    flushScheduled = false
    for (const i of dirty) (receivers[i] as RawImwirePeer).ackDeliveries(convBytes, delivered[i] as number)
    dirty.clear()
    pump()
  }
  receivers.forEach((r, i) => {
    r.startReceiving()
    r.onDeliver = (seq) => {
      if (seq > (delivered[i] as number)) delivered[i] = seq
      if (measuring) {
        deliveries++
        if ((seq & 7) === 0) samples.add(nowUs() - (sentAt[seq] ?? nowUs()))
      }
      dirty.add(i)
      if (!flushScheduled) {
        flushScheduled = true
        setImmediate(flush)
      }
    }
  })
  sender.startSending(conv, new Uint8Array(64).fill(0x62), randomBytes(8))
  sender.onAnswer = () => pump()
  pump()
  await sleep(700)
  const pid = server.proc.pid as number
  opts.hooks?.start()
  const s0 = cpuMsOf(pid)
  const g = process.cpuUsage()
  const t0 = performance.now()
  measuring = true
  const sent0 = sent
  await sleep(opts.measureMs)
  measuring = false
  const dt = performance.now() - t0
  const g1 = process.cpuUsage()
  opts.hooks?.stop()
  const serverCpu = (100 * (cpuMsOf(pid) - s0)) / dt
  const genCpu = (100 * ((g1.user + g1.system - g.user - g.system) / 1000)) / dt
  running = false
  const sends = sent - sent0
  const closedReceivers = receivers.filter((r) => r.closed).length
  sender.close()
  for (const r of receivers) r.close()
  const [p50, p99] = samples.percentiles([50, 99])
  return {
    sends,
    load: {
      rate: (deliveries * 1000) / dt,
      p50Us: p50 as number,
      p99Us: p99 as number,
      answers: deliveries,
      errors: sender.errors,
      serverCpu,
      genCpu,
    },
    notes:
      `deliveries/s to ${receivers.length} receivers; ${Math.round((sends * 1000) / dt)} sends/s; ` +
      `latency send->deliver` +
      (closedReceivers > 0 ? `; ${closedReceivers} receivers closed` : ''),
  }
}
