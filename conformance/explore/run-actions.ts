// Runs one action list against a server with the model watching every frame.
// Each action is resolved into concrete steps (the trace), applied to the
// model and to the wire; then the driver waits until the server has sent
// everything the model says it owes (quiescence) or a deadline passes.
import { randomBytes } from 'node:crypto'
import { decodeBatch, decodeFrame, encodeBatch, encodeFrame } from '../../src/codec/index.js'
import type { Transport } from '../drivers/transport.js'
import type { Target } from '../engine/target.js'
import { testToken } from '../engine/scope.js'
import { frameFromJson, frameToMatchJson } from '../judge/proto-json.js'
import type { Json } from '../load/scenario-types.js'
import { ImwireModel } from '../model/model.js'
import type { Violation } from '../model/expectation.js'
import { type Action, CONV_NAMES, DEVICES } from './actions.js'

type Obj = { [k: string]: Json }

/** One concrete step, as the vector writer replays it. */
export type TraceStep =
  | { op: 'connect'; conn: string; actor: number; tcp: boolean; hello: Obj; badToken?: boolean; settle?: boolean }
  | {
      op: 'send'
      conn: string
      frame: Obj
      /** wait for what the server owes before the next step (a probe that must be answered first) */
      settle?: boolean
    }
  | { op: 'batch'; conn: string; frames: Obj[]; codec: 'none' | 'lz4' }
  | { op: 'unknown'; conn: string }
  | { op: 'disconnect'; conn: string; graceful: boolean }
  | { op: 'restart'; kill: boolean }

export interface RunResult {
  violation: Violation | null
  /** Index of the action during which the violation showed. */
  at: number
  actionsRun: number
  trace: TraceStep[]
  /** Trace length at the end of each action (and after each settling step). */
  traceMarks: number[]
  limits: ReturnType<ImwireModel['knownLimits']>
  /** Prefix of the run's user and conversation ids. */
  namespace: string
}

export interface RunOptions {
  target: Target
  secret: string
  /** Prefix of the fresh ids of this run. */
  namespace: string
  durable: boolean
  /** How long the server may take to send what it owes after an action. */
  quiesceMs?: number
}

const USER_NAMES = ['u0', 'u1', 'u2']

export async function runActions(actions: Action[], o: RunOptions): Promise<RunResult> {
  const quiesceMs = o.quiesceMs ?? 3000
  const userId = (u: number) => `${o.namespace}-${USER_NAMES[u]}`
  const convId = (c: number) => `${o.namespace}-${CONV_NAMES[c]}`
  const model = new ImwireModel({
    durable: o.durable,
    tokenUser: (token) => {
      for (let u = 0; u < USER_NAMES.length; u++) if (token === testToken(o.secret, userId(u))) return userId(u)
      return null
    },
  })
  const transports = new Map<string, Transport>()
  const clientClosed = new Set<string>()
  const current = new Map<number, string>()
  const deliveredMax = new Map<string, number>()
  const ackedMax = new Map<string, number>()
  const sent: Array<{ user: number; frame: Obj }> = []
  let violation: Violation | null = null
  let at = -1
  let connCount = 0
  let msgCount = 0
  let wake: (() => void) | null = null
  const trace: TraceStep[] = []
  const traceMarks: number[] = []
  let actionIndex = 0

  const fail = (v: Violation | null) => {
    if (v && !violation) {
      violation = v
      at = actionIndex
    }
    wake?.()
  }
  const observe = (conn: string, frame: Obj) => {
    if (clientClosed.has(conn)) return
    if ('deliver' in frame) {
      const m = ((frame.deliver as Obj).message ?? {}) as Obj
      const k = `${conn}\0${m.conversationId}`
      deliveredMax.set(k, Math.max(deliveredMax.get(k) ?? 0, Number(m.seq ?? 0)))
    }
    fail(model.observe(conn, frame))
  }

  const attach = (conn: string, t: Transport) => {
    t.onEvent((e) => {
      if (clientClosed.has(conn)) return
      if (e.type === 'garbage')
        return fail({ conn, requirement: 'FRM-5', message: `bytes that are not frames: ${e.detail}` })
      if (e.type === 'closed') return fail(model.observeEnd(conn))
      let f: ReturnType<typeof decodeFrame>
      try {
        f = decodeFrame(e.bytes, 64 * 1024 * 1024)
      } catch (err) {
        return fail({ conn, requirement: 'FRM-5', message: `undecodable frame: ${(err as Error).message}` })
      }
      if (f.body.case === 'ping') {
        t.writeFrame(encodeFrame(frameFromJson({ pong: { nonce: String(f.body.value.nonce) } })))
        return
      }
      if (f.body.case === 'batch') {
        let inner: ReturnType<typeof decodeBatch>
        try {
          inner = decodeBatch(f, {
            maxBatchBytes: 1 << 30,
            maxBatchFrames: 1 << 20,
            maxFrameBytes: 1 << 30,
            lz4Enabled: true,
          })
        } catch (err) {
          return fail({ conn, requirement: 'BAT-3', message: `server batch: ${(err as Error).message}` })
        }
        for (const x of inner) observe(conn, frameToMatchJson(x) as Obj)
        return
      }
      observe(conn, frameToMatchJson(f) as Obj)
    })
  }

  const resolveSyms = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(resolveSyms)
    if (v !== null && typeof v === 'object') {
      if ('$sym' in v) return model.symValue(String(v.$sym)) ?? '0'
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveSyms(x)]))
    }
    return v
  }

  const apply = async (s: TraceStep) => {
    trace.push(s)
    switch (s.op) {
      case 'connect': {
        const t = await o.target.open(s.tcp ? 'tcp' : 'ws', 5000)
        transports.set(s.conn, t)
        model.open(s.conn)
        attach(s.conn, t)
        const u = Math.floor(s.actor / DEVICES)
        const hello = resolveSyms({
          versions: [1],
          token: s.badToken ? `imwire-test.v1.${userId(u)}.bad` : testToken(o.secret, userId(u)),
          deviceId: `d${s.actor % DEVICES}`,
          ...s.hello,
        }) as Obj
        model.clientFrame(s.conn, { hello })
        t.writeFrame(encodeFrame(frameFromJson({ hello })))
        return
      }
      case 'send':
        model.clientFrame(s.conn, s.frame)
        transports.get(s.conn)?.writeFrame(encodeFrame(frameFromJson(s.frame)))
        return
      case 'batch':
        model.clientBatch(s.conn, s.frames, s.codec)
        transports.get(s.conn)?.writeFrame(
          encodeFrame(
            encodeBatch(
              s.frames.map((f) => frameFromJson(f)),
              s.codec,
            ),
          ),
        )
        return
      case 'unknown':
        model.clientUnknownBody(s.conn)
        transports.get(s.conn)?.writeFrame(new Uint8Array(0))
        return
      case 'disconnect': {
        const t = transports.get(s.conn)
        clientClosed.add(s.conn)
        model.clientGone(s.conn)
        if (s.graceful) t?.writeFrame(encodeFrame(frameFromJson({ close: { code: 'CLOSE_CODE_NORMAL' } })))
        t?.end()
        return
      }
      case 'restart': {
        if (s.kill) {
          // A DeliverAck has no answer, so the model cannot know when its cursor is
          // durable; give acks in flight a moment before the kill (see the report
          // of seed 541: the model does not yet keep cursor latitude across a kill).
          await new Promise((r) => setTimeout(r, 300))
          model.serverGone()
          for (const c of transports.keys()) clientClosed.add(c)
          await o.target.restart('kill')
        } else {
          model.serverStopping()
          await o.target.restart('graceful')
          model.serverGone()
          for (const c of transports.keys()) clientClosed.add(c)
        }
        current.clear()
        return
      }
    }
  }

  const quiesce = async () => {
    const deadline = Date.now() + quiesceMs
    while (!violation && model.missing().length > 0 && Date.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r
        setTimeout(r, 5)
      })
      wake = null
    }
    if (!violation) {
      const m = model.missing()[0]
      if (m) fail(m)
    }
  }

  /**
   * Acks during replay: after each burst the server sends (a tiny window holds
   * the rest), acknowledge every conversation up to what this connection was
   * delivered, until nothing new arrives. Each ack is a settling step, so the
   * vector replays the same interleaving.
   */
  const ackWhileReplaying = async (conn: string) => {
    for (let round = 0; round < 8 && !violation; round++) {
      await quiesce()
      if (traceMarks.at(-1) !== trace.length) traceMarks.push(trace.length)
      if (violation || !model.hasSession(conn)) return
      let acked = false
      for (const [k, seq] of deliveredMax) {
        const [c, conv] = k.split('\0') as [string, string]
        if (c !== conn || seq <= (ackedMax.get(k) ?? 0)) continue
        ackedMax.set(k, seq)
        await apply({
          op: 'send',
          conn,
          frame: { deliverAck: { conversationId: conv, upToSeq: String(seq) } },
          settle: true,
        })
        acked = true
      }
      if (!acked) return
    }
  }

  const live = (a: number): string | null => {
    const c = current.get(a)
    return c !== undefined && model.hasSession(c) ? c : null
  }
  const newConn = (a: number) => `a${a}n${++connCount}`
  const userOf = (a: number) => userId(Math.floor(a / DEVICES))
  const maskUsers = (mask: number) =>
    USER_NAMES.map((_, i) => i)
      .filter((i) => mask & (1 << i))
      .map(userId)
  const nextMsgId = () => {
    msgCount++
    return randomBytes(16).toString('base64')
  }

  const resolve = (act: Action): TraceStep[] => {
    const rid = 1 + actionIndex
    if (act.t === 'restart') {
      if (!o.target.canRestart) return []
      const once: TraceStep = { op: 'restart', kill: act.kill }
      return act.twice ? [once, { op: 'restart', kill: act.kill }] : [once]
    }
    if (act.t === 'connect') {
      const conn = newConn(act.a)
      const user = userOf(act.a)
      const hello: Obj = {
        features: act.lz4 ? ['lz4'] : [],
        heartbeatMs: act.clampHeartbeat ? 600000 : 300000,
        ...(act.window ? { receiveWindow: act.window } : {}),
      }
      if (act.resume !== 'none') {
        const convs = model.world.conversationsOf(user).filter((c) => model.symValue(c.epoch.$sym) !== undefined)
        if (convs.length > 0)
          hello.resume = convs.map((c, i) => ({
            conversationId: c.id,
            // the bad position comes last, after valid ones a refused Hello must not apply [RSM-4]
            seq: String(c.messages.length + (act.resume === 'tooHigh' && i === convs.length - 1 ? 1 : 0)),
            epoch: c.epoch as unknown as Json,
          }))
      }
      if (act.resume === 'tooHigh' && hello.resume) {
        // refused [RSM-4]; the client connects again without resume positions, and
        // what it is replayed then shows whether the refused Hello moved a cursor
        const again = newConn(act.a)
        const { resume: _, ...plain } = hello
        current.set(act.a, again)
        return [
          { op: 'connect', conn, actor: act.a, tcp: act.tcp, hello, settle: true },
          { op: 'connect', conn: again, actor: act.a, tcp: act.tcp, hello: plain },
        ]
      }
      current.set(act.a, conn)
      return [{ op: 'connect', conn, actor: act.a, tcp: act.tcp, hello }]
    }
    if (act.t === 'badHello') {
      const conn = newConn(act.a)
      const hello: Obj =
        act.how === 'version'
          ? { versions: [2] }
          : act.how === 'device'
            ? { deviceId: 'bad device' }
            : act.how === 'maxFrame'
              ? { maxFrameBytes: 1048575 }
              : {}
      return [
        { op: 'connect', conn, actor: act.a, tcp: act.tcp, hello, ...(act.how === 'token' ? { badToken: true } : {}) },
      ]
    }
    const conn = live(act.a)
    if (conn === null) return []
    const user = userOf(act.a)
    // mostly a conversation the user is in (so traffic flows); index 3 may name any
    const mine = model.world.conversationsOf(user)
    const convOf = (c: number) =>
      c !== CONV_NAMES.length - 1 && mine.length > 0 ? (mine[c % mine.length] as { id: string }).id : convId(c)
    switch (act.t) {
      case 'disconnect':
        current.delete(act.a)
        return [{ op: 'disconnect', conn, graceful: act.graceful }]
      case 'create': {
        const others = maskUsers(act.members).filter((u) => u !== user)
        const members = act.group
          ? others
          : [others[0] ?? userId((Math.floor(act.a / DEVICES) + 1) % USER_NAMES.length)]
        return [
          {
            op: 'send',
            conn,
            frame: {
              createConversation: {
                requestId: rid,
                conversationId: convId(act.c),
                kind: act.group ? 'CONVERSATION_KIND_GROUP' : 'CONVERSATION_KIND_DIRECT',
                memberUserIds: members,
              },
            },
          },
        ]
      }
      case 'add':
      case 'remove':
        return [
          {
            op: 'send',
            conn,
            frame: {
              [act.t === 'add' ? 'addMembers' : 'removeMembers']: {
                requestId: rid,
                conversationId: convOf(act.c),
                userIds: maskUsers(act.users),
              },
            },
          },
        ]
      case 'leave': {
        const leave: TraceStep = {
          op: 'send',
          conn,
          frame: { leaveConversation: { requestId: rid, conversationId: convOf(act.c) } },
        }
        if (!act.probe) return [leave]
        // a listing just before the leave and the same listing just after: state
        // built up before the event must not outlive it
        const list = (requestId: number): TraceStep => ({
          op: 'send',
          conn,
          frame: { listConversations: { requestId, afterConversationId: '', limit: 0 } },
          settle: true,
        })
        return [list(1000 + rid), { ...leave, settle: true }, list(2000 + rid)]
      }
      case 'send': {
        const key = `${user}\0d${act.a % DEVICES}\0${convOf(act.c)}`
        let last = model.world.sendSeqs.get(key) ?? 0
        const limits = model.knownLimits()
        const frames: Obj[] = []
        for (let i = 0; i < act.n; i++) {
          const mine = sent.filter((s) => s.user === Math.floor(act.a / DEVICES))
          const old = act.retry !== 'no' && mine.length > 0 ? mine[act.pick % mine.length] : undefined
          const size =
            act.body === 'small' || !limits || act.n > 1
              ? 0
              : act.body === 'max'
                ? limits.maxMessageBytes
                : limits.maxMessageBytes + 1
          const body =
            size > 0 ? Buffer.alloc(size, 0x78).toString('base64') : Buffer.from(`m${msgCount}`).toString('base64')
          let send: Obj
          if (old) {
            send = { ...((old.frame.send ?? {}) as Obj) }
            if (act.retry === 'other') send.body = Buffer.from(`other${msgCount}`).toString('base64')
          } else {
            send = { clientMsgId: nextMsgId(), conversationId: convOf(act.c), body }
          }
          const seq =
            act.seq === 'none' ? 0 : act.seq === 'next' ? last + 1 : act.seq === 'gap' ? last + 2 : Math.max(1, last)
          if (seq > 0) send.sendSeq = String(seq)
          else delete send.sendSeq
          if (act.seq === 'next') last++
          const frame = { send }
          if (!old) sent.push({ user: Math.floor(act.a / DEVICES), frame })
          frames.push(frame)
        }
        if (act.via === 'plain') return frames.map((frame) => ({ op: 'send' as const, conn, frame }))
        return [{ op: 'batch', conn, frames, codec: act.via === 'lz4' ? 'lz4' : 'none' }]
      }
      case 'ack': {
        const conv = convOf(act.c)
        const top = model.world.top(conv)
        const upTo =
          act.to === 'top'
            ? top
            : act.to === 'over'
              ? top + 1
              : act.to === 'one'
                ? 1
                : (deliveredMax.get(`${conn}\0${conv}`) ?? 0)
        return [{ op: 'send', conn, frame: { deliverAck: { conversationId: conv, upToSeq: String(upTo) } } }]
      }
      case 'history':
        return [
          {
            op: 'send',
            conn,
            frame: {
              historyRequest: {
                requestId: rid,
                conversationId: convOf(act.c),
                direction: act.backward ? 'HISTORY_DIRECTION_BACKWARD' : 'HISTORY_DIRECTION_FORWARD',
                anchorSeq: String(act.anchor),
                limit: act.limit,
              },
            },
          },
        ]
      case 'list':
        return [
          {
            op: 'send',
            conn,
            frame: {
              listConversations: {
                requestId: rid,
                afterConversationId: act.after < 0 ? '' : convId(act.after),
                limit: act.limit,
              },
            },
          },
        ]
      case 'ping':
        return [{ op: 'send', conn, frame: { ping: { nonce: String(rid) } } }]
      case 'invalid':
        if (act.how === 'unknown') return [{ op: 'unknown', conn }]
        return [
          {
            op: 'send',
            conn,
            frame: act.how === 'hello' ? { hello: { versions: [1], deviceId: 'd0' } } : { replayComplete: {} },
          },
        ]
    }
  }

  try {
    for (actionIndex = 0; actionIndex < actions.length && !violation; actionIndex++) {
      for (const s of resolve(actions[actionIndex] as Action)) {
        await apply(s)
        if ((s.op === 'send' || s.op === 'connect') && s.settle && !violation) {
          await quiesce()
          traceMarks.push(trace.length)
        }
      }
      const act = actions[actionIndex] as Action
      if (act.t === 'connect' && act.ackReplay) await ackWhileReplaying(current.get(act.a) as string)
      await quiesce()
      if (traceMarks.at(-1) !== trace.length) traceMarks.push(trace.length)
    }
    if (!violation) {
      // frames owed nothing but sent anyway show up a moment later
      await new Promise((r) => setTimeout(r, 150))
    }
  } finally {
    for (const [c, t] of transports) {
      clientClosed.add(c)
      if (!t.closed) t.end()
    }
  }
  return {
    violation,
    at,
    actionsRun: Math.min(actionIndex, actions.length),
    trace,
    traceMarks,
    limits: model.knownLimits(),
    namespace: o.namespace,
  }
}
