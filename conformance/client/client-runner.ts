// Runs client scenarios: the kit plays the server (./scripted-server.ts), the
// client under test is driven through its adapter (./adapter-session.ts), and
// every step either acts or judges what the client put on the wire.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { create } from '@bufbuild/protobuf'
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, DEFAULT_MAX_FRAME_BYTES } from '../../src/codec/index.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { AdapterError, AdapterSession, type Launcher } from './adapter-session.js'
import { Failure, Unsupported } from './client-failure.js'
import type { ClientScenario, ClientStep } from './client-scenarios.js'
import { deliveryStep, replayFrames, type StepContext } from './delivery-steps.js'
import { KitConversations } from './kit-conversations.js'
import { ScriptedServer, type ScriptedConnection } from './scripted-server.js'
import { Transcript, type TranscriptEntry } from '../engine/transcript.js'

export type ClientVerdict = 'pass' | 'fail' | 'skip' | 'error'

export interface ClientCaseResult {
  id: string
  title: string
  level: 'MUST' | 'SHOULD'
  requirements: string[]
  /** What the kit's server listened on. */
  transport: 'tcp' | 'ws'
  verdict: ClientVerdict
  /** Why it failed, was skipped or errored. */
  message?: string
  /** The step (0-based) that decided a non-pass verdict. */
  step?: number
  durationMs: number
  /** Every frame both ways, every command and event of the adapter, every judgement. */
  transcript: TranscriptEntry[]
}

export interface ClientRunOptions {
  launcher: Launcher
  /** Multiplies the kit's waiting times (not the client's own delays). Default 1. */
  timeScale?: number
  /** What the kit's server listens on (default tcp); the client gets a tcp:// or ws:// url. */
  transport?: 'tcp' | 'ws'
}

/** Sizes of client_msg_id. [SND-5] */
const CLIENT_MSG_ID_BYTES = 16
/** What the kit's server advertises unless a step says otherwise. */
const WELCOME_HEARTBEAT_MS = 10_000
/** A timer may fire this much before the wait a client reports, measured from the kit's side (ms). */
const TIMER_GRANULARITY_MS = 5
/** How long the kit waits for a client action it expects (ms, before --time-scale). */
const ACTION_TIMEOUT_MS = 5_000
/** RTY-3's window for n consecutive failed attempts. */
export function backoffWindowMs(n: number): number {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** n)
}

interface Queued {
  id: Uint8Array
  conversation: string
  contentType: string
  body: Uint8Array
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export async function runClientScenario(s: ClientScenario, opts: ClientRunOptions): Promise<ClientCaseResult> {
  const scale = opts.timeScale ?? 1
  const t0 = performance.now()
  const now = () => performance.now()
  const transcript = new Transcript()
  const log = (line: string) => transcript.event('', 'note', line)
  const adapterLog = (line: string) => transcript.event('adapter', 'note', line)
  const stateDir = mkdtempSync(join(tmpdir(), 'imwire-client-'))
  const server = new ScriptedServer(now, transcript)
  const sent = new Map<string, Queued>()
  const convs = new KitConversations(now)
  /** What each connection's Welcome advertised. */
  const limits = new Map<ScriptedConnection, { receiveWindow: number; historyPageMax: number }>()
  /** When the kit last answered a message's Send with an Error. */
  const erroredAt = new Map<string, number>()
  // [DLV-9] every DeliverAck is judged the moment it arrives.
  server.onFrame = (c, f) => {
    if (f.body.case === 'deliverAck') convs.acked(f.body.value.conversationId, f.body.value.upToSeq)
    // Listing is never under test: answered at once, like Ping.
    else if (f.body.case === 'listConversations' && !c.silent) c.conn.send(convs.list(f.body.value.requestId))
  }
  /** When the kit itself ended a connection: the earliest the client can have seen it end. */
  const endedByKit = new Map<ScriptedConnection, number>()
  let adapter: AdapterSession | null = null
  let stepIndex = 0
  const result = (verdict: ClientVerdict, message?: string): ClientCaseResult => ({
    id: s.id,
    title: s.title,
    level: s.level,
    requirements: s.requirements,
    transport: opts.transport ?? 'tcp',
    verdict,
    ...(message !== undefined ? { message, step: stepIndex } : {}),
    durationMs: Math.round(now() - t0),
    transcript: transcript.finish(),
  })
  const ms = (n: number) => Math.round(n * scale)
  const launch = async () => {
    adapter = new AdapterSession(
      opts.launcher(stateDir, (text) => transcript.event('adapter', 'stderr', text.trimEnd())),
      now,
      adapterLog,
    )
    await adapter.started(ms(10_000))
  }
  const need = (): AdapterSession => {
    if (adapter === null) throw new Failure('the adapter is not running (a step stopped it)')
    return adapter
  }
  const current = (): ScriptedConnection => {
    const c = server.current
    if (c === undefined) throw new Failure('no connection accepted yet')
    return c
  }
  const endedAt = (c: ScriptedConnection): number => endedByKit.get(c) ?? c.closedAt ?? now()
  const answer = async (body: Parameters<AdapterSession['command']>[0]) => {
    const ev = await need().command(body, ms(ACTION_TIMEOUT_MS))
    if (ev.event.case === 'failed') {
      if (ev.event.value.unsupported) throw new Unsupported(`${body?.case}: ${ev.event.value.message}`)
      throw new Failure(`${body?.case} failed: ${ev.event.value.message}`)
    }
    return ev
  }

  const ctx: StepContext = {
    server,
    convs,
    current,
    adapter: need,
    ms,
    now,
    log,
    limits: (c) => limits.get(c) ?? { receiveWindow: 256, historyPageMax: 100 },
  }

  const step = async (st: ClientStep): Promise<void> => {
    if (await deliveryStep(ctx, st)) return
    if ('client' in st) {
      switch (st.client) {
        case 'connect':
          await answer({
            case: 'connect',
            value: {
              url: server.url,
              token: 'kit-token',
              deviceId: 'kit-device',
              heartbeatMs: st.heartbeatMs ?? 0,
              features: s.features ?? [],
            },
          })
          return
        case 'send': {
          const body = new TextEncoder().encode(st.body)
          const ev = await answer({
            case: 'send',
            value: { conversationId: st.conversation, contentType: st.contentType ?? '', body },
          })
          if (ev.event.case !== 'queued') throw new Failure(`send answered with ${ev.event.case}, not queued`)
          const id = ev.event.value.clientMsgId
          // [SND-5] 128 random bits.
          if (id.length !== CLIENT_MSG_ID_BYTES)
            throw new Failure(`client_msg_id of ${st.as} has ${id.length} bytes, not ${CLIENT_MSG_ID_BYTES}`)
          sent.set(st.as, { id, conversation: st.conversation, contentType: st.contentType ?? '', body })
          log(`${st.as} queued as ${hex(id)}`)
          return
        }
        case 'stop': {
          const a = need()
          adapter = null
          const status = await a.stop(ms(ACTION_TIMEOUT_MS))
          if (status !== 0) throw new Failure(`the adapter exited with ${status} after Stop, not 0`)
          return
        }
        case 'start':
          if (adapter !== null) throw new Failure('start while the adapter runs (stop it first)')
          await launch()
          return
        case 'expectRejected': {
          const q = sent.get(st.rejected) as Queued
          const a = need()
          const ev = await a.waitEvent(
            (e) => e.event.case === 'sendRejected' && hex(e.event.value.clientMsgId) === hex(q.id),
            ms(ACTION_TIMEOUT_MS),
          )
          // [RTY-5] a non-retryable refusal is reported to the user.
          if (ev === null || ev.event.case !== 'sendRejected')
            throw new Failure(
              `the client did not report ${st.rejected} as rejected within ${ms(ACTION_TIMEOUT_MS)} ms [RTY-5]`,
            )
          if (st.code !== undefined && ev.event.value.errorCode !== st.code)
            throw new Failure(`${st.rejected} reported rejected with code ${ev.event.value.errorCode}, not ${st.code}`)
          return
        }
        case 'sendMany':
          return // a delivery step
        case 'awaitMessage': {
          const ev = await need().waitEvent(
            (e) =>
              e.event.case === 'message' &&
              e.event.value.conversationId === st.conversation &&
              e.event.value.seq === BigInt(st.seq),
            ms(ACTION_TIMEOUT_MS),
          )
          if (ev === null)
            throw new Failure(
              `the client did not hand ${st.conversation} seq ${st.seq} over within ${ms(ACTION_TIMEOUT_MS)} ms`,
            )
          return
        }
        case 'disconnect':
          await answer({ case: 'disconnect', value: {} })
          return
        case 'report': {
          const ev = await answer({ case: 'report', value: {} })
          if (ev.event.case !== 'report') throw new Failure(`report answered with ${ev.event.case}`)
          const got = ev.event.value.outbox
          log(`outbox reported: [${got.map((e) => hex(e.clientMsgId)).join(', ')}]`)
          const names = st.outbox
          if (names !== undefined) {
            const want = names.map((n) => sent.get(n) as Queued)
            if (got.length !== want.length)
              throw new Failure(`outbox holds ${got.length} messages, expected ${want.length} (${names.join(', ')})`)
            want.forEach((w, i) => {
              const g = got[i]
              if (g === undefined || hex(g.clientMsgId) !== hex(w.id) || hex(g.body) !== hex(w.body))
                throw new Failure(`outbox entry ${i} is not ${names[i]} with its id and body`)
            })
          }
          for (const [conv, seqs] of Object.entries(st.received ?? {})) {
            const r = ev.event.value.received.find((x) => x.conversationId === conv)?.seqs.map(Number) ?? []
            log(`${conv}: handed over [${r.join(', ')}]`)
            if (r.join(',') !== seqs.join(','))
              throw new Failure(`${conv}: the application got seqs [${r.join(', ')}], expected [${seqs.join(', ')}]`)
          }
          return
        }
      }
    }
    switch (st.server) {
      case 'accept': {
        const c = await server.nextConnection(ms(st.timeoutMs ?? 10_000))
        if (c === null) throw new Failure(`the client did not connect within ${ms(st.timeoutMs ?? 10_000)} ms`)
        const hello = await server.nextFrame(c, (f) => f.body.case === 'hello', ms(ACTION_TIMEOUT_MS))
        if (hello === null) throw new Failure(`connection ${c.index}: no Hello`)
        // [RSM-4] resume positions of the epoch the kit holds act as acknowledgements (judged by DLV-9).
        for (const r of (hello.frame.body as Extract<Frame['body'], { case: 'hello' }>).value.resume) {
          if (convs.has(r.conversationId) && convs.get(r.conversationId).epoch === r.epoch)
            convs.acked(r.conversationId, r.seq)
        }
        limits.set(c, { receiveWindow: st.receiveWindow ?? 256, historyPageMax: st.historyPageMax ?? 100 })
        if (st.welcome === false) return
        if (st.holdWelcomeMs !== undefined) {
          // [HS-14] between Hello and Welcome the client may only Close.
          const early = await server.nextFrame(c, (f) => f.body.case !== 'close', st.holdWelcomeMs)
          if (early !== null)
            throw new Failure(`connection ${c.index}: the client sent ${early.frame.body.case} before Welcome [HS-14]`)
        }
        c.conn.send(
          welcome(c.index, {
            heartbeatMs: st.heartbeatMs ?? WELCOME_HEARTBEAT_MS,
            maxInflightSends: st.maxInflightSends ?? 64,
            receiveWindow: st.receiveWindow ?? 256,
            historyPageMax: st.historyPageMax ?? 100,
            dedupeWindowMs: st.dedupeWindowMs,
          }),
        )
        for (const f of replayFrames(ctx, st.replay ?? [])) c.conn.send(f)
        return
      }
      case 'drop': {
        const c = current()
        endedByKit.set(c, now())
        c.conn.destroy()
        return
      }
      case 'close': {
        const c = current()
        endedByKit.set(c, now())
        c.conn.close(st.code, 'kit', st.retryAfterMs ?? 0)
        return
      }
      case 'expectSend': {
        const q = sent.get(st.of) as Queued
        const c = current()
        const f = await server.nextFrame(c, (fr) => fr.body.case === 'send', ms(ACTION_TIMEOUT_MS))
        if (f === null)
          throw new Failure(`no Send of ${st.of} on connection ${c.index} within ${ms(ACTION_TIMEOUT_MS)} ms`)
        const v = (f.frame.body as Extract<Frame['body'], { case: 'send' }>).value
        // [SND-5] [RTY-2] the same id, conversation, content type and body on every transmission.
        const diffs: string[] = []
        if (hex(v.clientMsgId) !== hex(q.id)) diffs.push(`client_msg_id ${hex(v.clientMsgId)} != queued ${hex(q.id)}`)
        if (v.conversationId !== q.conversation) diffs.push(`conversation ${v.conversationId} != ${q.conversation}`)
        if (v.contentType !== q.contentType) diffs.push(`content_type ${v.contentType} != ${q.contentType}`)
        if (hex(v.body) !== hex(q.body)) diffs.push('body differs')
        if (diffs.length > 0) throw new Failure(`Send of ${st.of} on connection ${c.index}: ${diffs.join('; ')}`)
        // [ORD-7] [ORD-9] the send_seq it must carry now.
        if (st.sendSeq !== undefined && v.sendSeq !== BigInt(st.sendSeq))
          throw new Failure(
            `Send of ${st.of} on connection ${c.index} has send_seq ${v.sendSeq}, expected ${st.sendSeq}`,
          )
        const errored = erroredAt.get(st.of)
        if (st.notBeforeMs !== undefined && errored !== undefined) {
          const after = Math.round(f.at - errored)
          log(`${st.of} sent again ${after} ms after its Error`)
          // [RTY-3] a retryable Error is retried never sooner than its retry_after_ms.
          if (after < st.notBeforeMs)
            throw new Failure(
              `${st.of} sent again ${after} ms after its Error, before retry_after_ms ${st.notBeforeMs} [RTY-3]`,
            )
        }
        return
      }
      case 'ack': {
        const q = sent.get(st.of) as Queued
        const seq = convs.own(q.conversation)
        current().conn.send(
          create(FrameSchema, {
            body: {
              case: 'sendAck',
              value: {
                clientMsgId: q.id,
                conversationId: q.conversation,
                seq,
                messageId: `kit-${seq}`,
                serverTimeMs: BigInt(Date.now()),
                epoch: convs.get(q.conversation).epoch,
              },
            },
          }),
        )
        return
      }
      case 'error': {
        const q = sent.get(st.of) as Queued
        current().conn.send(
          create(FrameSchema, {
            body: {
              case: 'error',
              value: {
                code: st.code,
                message: 'kit',
                retryable: st.retryable ?? false,
                retryAfterMs: st.retryAfterMs ?? 0,
                clientMsgId: q.id,
                expectedSendSeq: BigInt(st.expectedSendSeq ?? 0),
              },
            },
          }),
        )
        erroredAt.set(st.of, now())
        return
      }
      case 'expectNoSend': {
        const c = current()
        const f = await server.nextFrame(c, (fr) => fr.body.case === 'send', ms(st.forMs))
        if (f !== null) {
          const v = (f.frame.body as Extract<Frame['body'], { case: 'send' }>).value
          const id = hex(v.clientMsgId)
          const name = [...sent].find(([, q]) => hex(q.id) === id)?.[0] ?? `unknown id ${id}`
          // Seen earlier on this connection: a resend on a live connection [RTY-1]; else too many in flight.
          const again = c.frames.some(
            (r) => r !== f && r.frame.body.case === 'send' && hex(r.frame.body.value.clientMsgId) === id,
          )
          throw new Failure(
            again
              ? `${name} went out again on live connection ${c.index} [RTY-1]`
              : `${name} went out on connection ${c.index} while no Send was allowed (${st.forMs} ms window)`,
          )
        }
        return
      }
      case 'expectNoConnection': {
        const hit = await server.waitFor(() => (server.pending > 0 ? true : undefined), ms(st.forMs))
        if (hit !== null)
          throw new Failure(
            `the client reconnected (connection ${server.connections.length}) within ${ms(st.forMs)} ms`,
          )
        return
      }
      case 'expectReconnect': {
        const prev = current()
        // Lateness is what a loaded machine adds, so only the upper slack
        // stretches with --time-scale; the lower bound is never relaxed.
        const upper = Math.max(st.notBeforeMs, backoffWindowMs(0)) + ms(st.slackMs)
        const next = await server.waitFor(() => server.connections[prev.index], upper + ms(2000))
        if (next === null || next === undefined) throw new Failure(`no reconnect within ${upper + ms(2000)} ms`)
        const delay = next.acceptedAt - endedAt(prev)
        log(`reconnect delay ${Math.round(delay)} ms (allowed [${st.notBeforeMs}, ${upper}))`)
        if (delay < st.notBeforeMs)
          throw new Failure(
            `reconnected after ${Math.round(delay)} ms, before retry_after_ms ${st.notBeforeMs} [RTY-3]`,
          )
        if (delay >= upper) throw new Failure(`reconnected after ${Math.round(delay)} ms, later than ${upper} ms`)
        return
      }
      case 'expectPings': {
        const c = current()
        const limit = st.everyMs + ms(st.slackMs)
        for (let i = 0; i < st.count; i++) {
          const lastSent = c.frames.at(-1)?.at ?? c.acceptedAt
          const f = await server.nextFrame(c, (fr) => fr.body.case === 'ping', lastSent - now() + limit)
          // [HB-3] a Ping whenever the client has sent nothing for heartbeat_ms.
          if (f === null)
            throw new Failure(
              `no Ping ${i + 1} of ${st.count} on idle connection ${c.index} within ${limit} ms of the client's last frame [HB-3]`,
            )
          log(`Ping ${i + 1} ${Math.round(f.at - lastSent)} ms after the client's previous frame`)
        }
        return
      }
      case 'refuseAndMeasure': {
        const delays: number[] = []
        const first = current()
        let prev = first
        for (let n = 0; n < st.attempts; n++) {
          const limit = backoffWindowMs(n) + ms(st.slackMs)
          const c = await server.nextConnection(limit + ms(2000))
          if (c === null) throw new Failure(`attempt n=${n}: no reconnect within ${limit + ms(2000)} ms`)
          endedByKit.set(c, now())
          c.conn.destroy()
          const delay = c.acceptedAt - endedAt(prev)
          delays.push(Math.round(delay))
          log(`attempt n=${n}: delay ${Math.round(delay)} ms, window [0, ${backoffWindowMs(n)})`)
          if (delay >= limit)
            throw new Failure(
              `attempt n=${n}: delay ${Math.round(delay)} ms exceeds the window ${backoffWindowMs(n)} ms [RTY-3]`,
            )
          prev = c
        }
        const draws = await reportedDraws(need(), first, st.attempts)
        if (draws !== null) {
          log(`draws reported by the client: ${draws.join(', ')} ms`)
          for (const [n, d] of draws.entries()) {
            // [RTY-3] the draw itself, exactly: no slack is needed for a number the client reports.
            if (d >= backoffWindowMs(n))
              throw new Failure(`attempt n=${n}: the client drew ${d} ms, outside [0, ${backoffWindowMs(n)}) [RTY-3]`)
            // A client cannot have waited less than it says (timer granularity aside).
            if ((delays[n] as number) < d - TIMER_GRANULARITY_MS)
              throw new Failure(`attempt n=${n}: reported a ${d} ms wait but reconnected after ${delays[n]} ms`)
          }
        }
        // With draws reported, judge them (exact under any load); else the observed delays.
        const judged = draws ?? delays
        if (judged.every((d) => d < st.floorMs))
          throw new Failure(
            `all ${judged.length} ${draws ? 'draws' : 'delays'} under ${st.floorMs} ms (${judged.join(', ')}): no backoff [RTY-3]`,
          )
        return
      }
    }
  }

  /**
   * The reconnect delays the client reported (Disconnected.reconnect_in_ms)
   * for the connections that ended from `first` on, one per attempt; null when
   * the adapter does not report them (every Disconnected without will_reconnect).
   */
  const reportedDraws = async (
    a: AdapterSession,
    first: ScriptedConnection,
    count: number,
  ): Promise<number[] | null> => {
    const since = endedAt(first)
    const disconnects = () =>
      a.events
        .filter((e) => e.at >= since)
        .map((e) => e.event.event)
        .filter((e) => e.case === 'disconnected')
        .map((e) => e.value)
    // The event for the last refusal may still be on its way through the pipe.
    await a.waitEvent(() => disconnects().length >= count, ms(1000))
    const ds = disconnects().slice(0, count)
    if (ds.length < count || ds.some((d) => !d.willReconnect)) return null
    return ds.map((d) => d.reconnectInMs)
  }

  try {
    await server.start(opts.transport ?? 'tcp')
    log(`${s.id}: server at ${server.url}`)
    await launch()
    for (const [i, st] of s.steps.entries()) {
      stepIndex = i
      transcript.event('', 'step', `steps[${i}] ${JSON.stringify(st)}`)
      await step(st)
      const bad = convs.violations[0]
      if (bad !== undefined) throw new Failure(bad)
    }
    return result('pass')
  } catch (err) {
    if (err instanceof Failure) {
      log(`FAIL: ${err.message}`)
      return result('fail', err.message)
    }
    if (err instanceof Unsupported) return result('skip', err.message)
    if (err instanceof AdapterError) {
      log(`FAIL: ${err.message}`)
      return result('fail', err.message)
    }
    log(`ERROR: ${(err as Error).stack ?? String(err)}`)
    return result('error', (err as Error).message)
  } finally {
    const a = adapter as AdapterSession | null
    if (a !== null) await a.stop(ms(ACTION_TIMEOUT_MS)).catch(() => a.kill())
    await server.close()
    rmSync(stateDir, { recursive: true, force: true })
  }
}

interface WelcomeLimits {
  heartbeatMs: number
  maxInflightSends: number
  receiveWindow: number
  historyPageMax: number
  /** Default: 7 days, the least a server may advertise [DUP-5]. */
  dedupeWindowMs: number | undefined
}

function welcome(index: number, w: WelcomeLimits): Frame {
  return create(FrameSchema, {
    body: {
      case: 'welcome',
      value: {
        version: 1,
        sessionId: `kit-session-${index}`,
        userId: 'kit-user',
        deviceId: 'kit-device',
        heartbeatMs: w.heartbeatMs,
        serverTimeMs: BigInt(Date.now()),
        limits: {
          maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
          maxMessageBytes: 64 * 1024,
          receiveWindow: w.receiveWindow,
          maxInflightSends: w.maxInflightSends,
          historyPageMax: w.historyPageMax,
          dedupeWindowMs: BigInt(w.dedupeWindowMs ?? 7 * 24 * 3600 * 1000),
        },
      },
    },
  })
}

/**
 * A case that spends most of its time on a connection where nothing happens,
 * waiting for the client's own deadline (11 s of silence [HB-3], 15 s without
 * Welcome [HS-16]). Such cases may run beside the others: they judge seconds,
 * with a second of slack, and an idle socket disturbs no other case's timing.
 */
export function waitsOnSilence(s: ClientScenario): boolean {
  return s.steps.some((st) => 'server' in st && st.server === 'expectDrop')
}

/** Runs scenarios one after another (their timing checks need a quiet machine, not parallelism). */
export async function runClientSuite(scenarios: ClientScenario[], opts: ClientRunOptions): Promise<ClientCaseResult[]> {
  const out: ClientCaseResult[] = []
  for (const s of scenarios) out.push(await runClientScenario(s, opts))
  return out
}
