// The crash-safety scenario: real server process, real disk, SIGKILL under
// load, restart on the same data directory, clients that retry through it.
// Returns the violations it found (empty = the server kept every promise).
//
// What is checked, after every outbox is empty and every device caught up:
// - [ACK-1] [ACK-2] every acked message is in history at the seq it was acked
//   with, with the same message_id (an ack before a durable commit shows up
//   here: the seq is missing or holds another message after the restart);
// - [ORD-1] each conversation's seqs are dense from 1;
// - [DUP-1] [DUP-2] every client_msg_id resolved to exactly one message, and
//   every message sent is there once (retries never made a second copy);
// - [ORD-6] one device's messages into one conversation are in send order;
// - [DLV-1] [FAN-1] [RSM-1] every member device saw every message of its
//   conversations (deliveries, replay, plus its own acks [DLV-5]), each seq
//   handed to the application once and in increasing order.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ServerChild, spawnServer, splitHostPort } from '../../bench/lib/child.js'
import { scaled } from '../support/time-scale.js'
import { ImwireClient } from '../../src/client/client.js'
import type { SendResult } from '../../src/client/client-types.js'
import { makeTestToken } from '../../src/client/test-token.js'
import { connectTcp } from '../../src/transport/index.js'

/**
 * What the load runs against and what happens to it meanwhile: one server
 * killed and restarted (singleNode below), or a cluster with its own faults
 * (test/cluster/).
 */
export interface Deployment {
  /** Where client `index` connects on its `attempt`-th try (round-robin over live nodes). */
  address(index: number, attempt: number): string
  /**
   * The faults, run while the load runs: resolves once they are over and
   * the deployment serves again. `acked()` is the number of acked sends
   * so far, out of `total`.
   */
  faults(acked: () => number, total: number): Promise<FaultReport>
  stop(): Promise<void>
}

export interface FaultReport {
  ackedBeforeKill: number
  /** Periods (Date.now()) in which no SendAck may arrive: the database was down. [ACK-1] */
  outages: { what: string; from: number; to: number }[]
  /** Sends acked when each fault struck (to see that it struck mid-load). */
  ackedAt?: number[]
}

export interface CrashOptions {
  users: number
  messagesPerUser: number
  /** Sends issued per user per tick (5 ms). */
  burst: number
  /** Give up waiting for outboxes / deliveries after this long. */
  settleMs: number
}

export interface CrashReport {
  violations: string[]
  sent: number
  ackedBeforeKill: number
  duplicatesAcked: number
  reconnects: number
  history: number
  terminated: number
  /** Sends acked when each fault struck. */
  ackedAtFaults: number[]
}

const SECRET = 'crash-secret'
/**
 * Answers committed before an outage began may still be on their way for this
 * long; stretched with every other deadline on a loaded machine
 * (IMWIRE_TIME_SCALE): a full local run at scale 1 once saw 2 SendAcks arrive
 * 300+ ms into the PostgreSQL outage, every acked message in history
 * afterwards (not reproduced in 7 runs of the test alone or beside four busy
 * loops).
 */
const OUTAGE_GRACE_MS = scaled(300)
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

interface Device {
  user: string
  client: ImwireClient
  convs: string[]
  acks: Map<string, SendResult>
  /** conv -> seqs handed to the application, in hand-over order. */
  seen: Map<string, number[]>
  seenIds: Map<string, Map<number, string>>
  own: Map<string, Set<number>>
  /** When each SendAck arrived (Date.now()). */
  ackTimes: number[]
  reconnects: number
  terminated: boolean
  /** The terminal close code that stopped the client, if any. */
  terminalCode?: number
}

export const CRASH_SECRET = SECRET

/**
 * One server on a data directory, SIGKILLed when `killAtFraction` of the
 * sends are acked and restarted on the same data. 'ack-before-commit' runs
 * the test-only faulty server (self-check); null the real one.
 */
export async function singleNode(opts: {
  root: string
  fault: 'ack-before-commit' | null
  killAtFraction: number
  settleMs: number
}): Promise<Deployment> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'imwire-crash-'))
  const start = (): Promise<ServerChild> => {
    const common = ['--tcp', '127.0.0.1:0', '--data-dir', dataDir, '--token-secret', SECRET]
    if (opts.fault === 'ack-before-commit') {
      // The reference server over a store that acks before COMMIT (test code only).
      // Built by ensureBuilt('test/crash/faulty-serve.ts') in the test.
      return spawnServer(process.execPath, [path.join(opts.root, 'dist/test/crash/faulty-serve.js'), ...common], {
        want: ['tcp'],
        timeoutMs: scaled(60_000),
        cwd: opts.root,
      })
    }
    return spawnServer(
      process.execPath,
      [path.join(opts.root, 'dist/src/cli/main.js'), 'serve', ...common, '--ws', 'off', '--log-level', 'warn'],
      { want: ['tcp'], timeoutMs: scaled(60_000) },
    )
  }
  let server = await start()
  return {
    address: () => server.tcp as string,
    async faults(acked, total) {
      const deadline = Date.now() + opts.settleMs
      while (acked() < total * opts.killAtFraction && Date.now() < deadline) await sleep(2)
      const ackedBeforeKill = acked()
      await server.kill()
      await sleep(200)
      server = await start()
      return { ackedBeforeKill, outages: [] }
    },
    async stop() {
      await server.stop(1000)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function runCrashScenario(deployment: Deployment, opts: CrashOptions): Promise<CrashReport> {
  const violations: string[] = []
  const devices: Device[] = []
  try {
    const users = Array.from({ length: opts.users }, (_, i) => `u${i}`)
    // Three conversations: a group of everyone, a direct pair, a group of the second half.
    const half = users.slice(Math.floor(users.length / 2))
    const convMembers = new Map<string, string[]>([
      ['all', users],
      ['pair', users.slice(0, 2)],
      ['half', half],
    ])
    for (const [index, user] of users.entries()) {
      let attempt = 0
      const client = await ImwireClient.open({
        connect: () => {
          const { host, port } = splitHostPort(deployment.address(index, attempt++))
          return connectTcp(host, port, { connectTimeoutMs: 2000 })
        },
        token: makeTestToken(SECRET, user),
        deviceId: `${user}-dev`,
        backoff: { baseMs: 50, capMs: 400 },
        ackDelayMs: 5,
      })
      const d: Device = {
        user,
        client,
        convs: [...convMembers].filter(([, m]) => m.includes(user)).map(([c]) => c),
        acks: new Map(),
        seen: new Map(),
        seenIds: new Map(),
        own: new Map(),
        ackTimes: [],
        reconnects: 0,
        terminated: false,
      }
      client.on('ack', (r) => {
        d.acks.set(r.id, r)
        d.ackTimes.push(Date.now())
        let s = d.own.get(r.conversationId)
        if (s === undefined) {
          s = new Set()
          d.own.set(r.conversationId, s)
        }
        s.add(r.seq)
      })
      client.on('message', (m) => {
        let l = d.seen.get(m.conversationId)
        if (l === undefined) {
          l = []
          d.seen.set(m.conversationId, l)
        }
        l.push(m.seq)
        let ids = d.seenIds.get(m.conversationId)
        if (ids === undefined) {
          ids = new Map()
          d.seenIds.set(m.conversationId, ids)
        }
        ids.set(m.seq, m.messageId)
      })
      client.on('disconnected', () => d.reconnects++)
      client.on('terminated', (err) => {
        d.terminated = true
        if (err.closeCode !== undefined) d.terminalCode = err.closeCode
      })
      await client.connect()
      devices.push(d)
    }
    const owner = devices[0] as Device
    await owner.client.conversations.create({ conversationId: 'all', kind: 'group', members: users.slice(1) })
    await owner.client.conversations.create({ conversationId: 'pair', kind: 'direct', members: [users[1] as string] })
    const halfOwner = devices.find((d) => d.user === half[0]) as Device
    await halfOwner.client.conversations.create({ conversationId: 'half', kind: 'group', members: half.slice(1) })

    // Load: every device sends messagesPerUser messages round-robin over its
    // conversations, a burst per 5 ms tick, without waiting for acks (the
    // outbox and its window do the pacing).
    const total = opts.users * opts.messagesPerUser
    const acked = () => devices.reduce((n, d) => n + d.acks.size, 0)
    const senders = devices.map(async (d) => {
      for (let i = 0; i < opts.messagesPerUser; i += opts.burst) {
        for (let j = i; j < Math.min(opts.messagesPerUser, i + opts.burst); j++) {
          const conv = d.convs[j % d.convs.length] as string
          const body = `${d.user}:${conv}:${j}`
          void d.client.send(conv, body).catch(() => {})
        }
        await sleep(5)
      }
    })
    if (process.env.CRASH_DEBUG)
      setInterval(
        () =>
          console.error(
            'dbg',
            devices.map((d) => `${d.user}:${d.client.state}:${d.client.outboxSize}:${d.reconnects}`).join(' '),
          ),
        1000,
      ).unref()
    const { ackedBeforeKill, outages, ackedAt } = await deployment.faults(acked, total)
    await Promise.all(senders)
    const settleDeadline = Date.now() + opts.settleMs

    // Settle: every outbox empty, then every device caught up with history.
    while (Date.now() < settleDeadline && devices.some((d) => !d.terminated && d.client.outboxSize > 0)) await sleep(20)
    for (const d of devices) {
      if (d.client.outboxSize > 0) violations.push(`${d.user}: ${d.client.outboxSize} sends never acked`)
      if (d.terminated) {
        // 3508 at a resume: the client had been delivered a seq the server never committed. [DLV-3] [ACK-1]
        const code = d.terminalCode ?? 0
        violations.push(
          code === 3508
            ? `[ACK-1] ${d.user}: client terminated with 3508: it was delivered a seq that was never committed`
            : `${d.user}: client terminated (server closed it with ${code || 'a terminal code'})`,
        )
      }
    }
    const history = new Map<string, Array<{ seq: number; id: string; sender: string; cid: string; body: string }>>()
    for (const conv of convMembers.keys()) {
      // [HIS-3] only members may read: page with a member's client.
      const reader = devices.find((d) => !d.terminated && d.convs.includes(conv)) ?? owner
      const msgs = await reader.client.conversations.readAll(conv).catch((err: unknown) => {
        violations.push(`history of ${conv} unreadable: ${String(err)}`)
        return []
      })
      history.set(
        conv,
        msgs.map((m) => ({
          seq: Number(m.seq),
          id: m.messageId,
          sender: m.senderUserId,
          cid: Buffer.from(m.clientMsgId).toString('hex'),
          body: new TextDecoder().decode(m.body),
        })),
      )
    }
    const complete = (d: Device) =>
      d.convs.every((c) => {
        const top = history.get(c)?.length ?? 0
        const have = new Set([...(d.seen.get(c) ?? []), ...(d.own.get(c) ?? [])])
        for (let s = 1; s <= top; s++) if (!have.has(s)) return false
        return true
      })
    while (Date.now() < settleDeadline && devices.some((d) => !d.terminated && !complete(d))) await sleep(20)

    // [ACK-1] nothing can be acked while the database is down: a SendAck in
    // an outage (after a grace for answers already on their way) was not
    // built from a durable commit.
    for (const o of outages) {
      const during = devices.reduce(
        (n, d) => n + d.ackTimes.filter((at) => at > o.from + OUTAGE_GRACE_MS && at < o.to).length,
        0,
      )
      if (during > 0) violations.push(`[ACK-1] ${during} SendAcks arrived while ${o.what} was down`)
    }

    // --- checks ---
    let historyCount = 0
    const byCid = new Map<string, { conv: string; seq: number; id: string }[]>()
    for (const [conv, msgs] of history) {
      historyCount += msgs.length
      msgs.forEach((m, i) => {
        if (m.seq !== i + 1) violations.push(`[ORD-1] ${conv}: position ${i + 1} holds seq ${m.seq}`)
        const l = byCid.get(m.cid) ?? []
        l.push({ conv, seq: m.seq, id: m.id })
        byCid.set(m.cid, l)
      })
    }
    for (const [cid, l] of byCid)
      if (l.length > 1) violations.push(`[DUP-1] client_msg_id ${cid} stored ${l.length} times`)
    let duplicatesAcked = 0
    for (const d of devices) {
      for (const [cid, r] of d.acks) {
        if (r.duplicate) duplicatesAcked++
        const found = byCid.get(cid)?.[0]
        if (found === undefined)
          violations.push(`[ACK-2] ${d.user}: acked ${r.conversationId}#${r.seq} is not in history`)
        else if (found.seq !== r.seq || found.id !== r.messageId || found.conv !== r.conversationId) {
          violations.push(
            `[ACK-2] ${d.user}: acked ${r.conversationId}#${r.seq} (${r.messageId}) is in history as #${found.seq} (${found.id})`,
          )
        }
      }
    }
    if (historyCount !== total) violations.push(`[DUP-2] ${total} messages sent, ${historyCount} in history`)
    for (const [conv, msgs] of history) {
      // [ORD-6] per sender, bodies carry the sender's own counter j: it must increase with seq.
      const lastJ = new Map<string, number>()
      for (const m of msgs) {
        const j = Number(m.body.split(':')[2])
        if ((lastJ.get(m.sender) ?? -1) >= j)
          violations.push(`[ORD-6] ${conv}: ${m.sender}'s message ${j} after a later one`)
        lastJ.set(m.sender, j)
      }
    }
    for (const d of devices) {
      for (const conv of d.convs) {
        const seen = d.seen.get(conv) ?? []
        for (let i = 1; i < seen.length; i++) {
          if ((seen[i] as number) <= (seen[i - 1] as number)) {
            violations.push(`[DLV-1] ${d.user} ${conv}: seq ${seen[i]} handed over after ${seen[i - 1]}`)
            break
          }
        }
        const msgs = history.get(conv) ?? []
        const own = d.own.get(conv) ?? new Set<number>()
        const ids = d.seenIds.get(conv) ?? new Map<number, string>()
        let missing = 0
        const gaps: number[] = []
        for (const m of msgs) {
          if (own.has(m.seq)) continue
          const got = ids.get(m.seq)
          if (got === undefined) {
            missing++
            if (gaps.length < 6) gaps.push(m.seq)
          } else if (got !== m.id)
            violations.push(`[FAN-1] ${d.user} ${conv}#${m.seq}: delivered ${got}, history has ${m.id}`)
        }
        if (missing > 0) {
          const last = seen.length > 0 ? seen[seen.length - 1] : 0
          violations.push(
            `[FAN-1] ${d.user} ${conv}: ${missing} messages never delivered (first ${gaps.join(',')}; ` +
              `${seen.length} delivered, last ${last}, history top ${msgs.length})`,
          )
        }
      }
    }
    return {
      violations,
      sent: total,
      ackedBeforeKill,
      duplicatesAcked,
      reconnects: devices.reduce((n, d) => n + d.reconnects, 0),
      history: historyCount,
      terminated: devices.filter((d) => d.terminated).length,
      ackedAtFaults: ackedAt ?? [ackedBeforeKill],
    }
  } finally {
    await Promise.all(devices.map((d) => d.client.close().catch(() => {})))
    await deployment.stop()
  }
}
