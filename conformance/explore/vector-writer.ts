// Turns the trace of a (shrunk) exploration into a session vector: the
// client steps as they were sent, and after each action the frames a
// conforming server owes, as the model produces them when it plays the
// server itself (ImwireModel.simulate). Concrete ids become templates, so the
// normal runner replays the vector with fresh users and conversations.
import type { Json } from '../load/scenario-types.js'
import { ImwireModel } from '../model/model.js'
import { CONV_NAMES, DEVICES, USERS } from './actions.js'
import type { RunResult, TraceStep } from './run-actions.js'

type Obj = { [k: string]: Json }

export function traceToScenario(r: RunResult, meta: { seed: number; requirement: string; message: string }): Obj {
  const trace = r.trace
  // a trace of Hellos alone names no user or conversation: the run says its namespace
  const ns = r.namespace ?? namespaceOf(trace)
  const limits = r.limits ?? {
    maxMessageBytes: 65536,
    replayLimit: 500,
    historyPageMax: 100,
    maxGroupMembers: 1000,
    receiveWindow: 256,
  }
  const model = new ImwireModel({
    durable: true,
    limits,
    tokenUser: (t) => (t.endsWith('.bad') ? null : (/^imwire-test\.v1\.(.*)$/.exec(t)?.[1] ?? null)),
  })
  const msgIds = new Map<string, string>()
  const capsKnown = new Set<string>()
  const steps: Obj[] = []
  let needsRestart = false
  // connections keep their transport relative to the first one: a user on both
  // transports at once stays so when the vector runs over either
  const firstTcp = trace.find((s) => s.op === 'connect')?.tcp
  let twoTransports = false
  let lz4 = false

  const tmpl = (v: Json, inMatcher: boolean, introduced: Set<string>): Json => {
    if (typeof v === 'string') {
      if (ns && v.startsWith(`${ns}-u`)) return `\${user.${v.slice(ns.length + 1)}}`
      if (ns && v.startsWith(`${ns}-`) && CONV_NAMES.includes(v.slice(ns.length + 1)))
        return `\${conv.${v.slice(ns.length + 1)}}`
      const mid = msgIds.get(v)
      if (mid) return `\${msgid.${mid}}`
      if (v.length > 200 && /^[A-Za-z0-9+/=]+$/.test(v)) {
        return inMatcher ? { $any: true } : { $bytes: Buffer.from(v, 'base64').length }
      }
      return v
    }
    if (Array.isArray(v)) return v.map((x) => tmpl(x, inMatcher, introduced))
    if (v !== null && typeof v === 'object') {
      if ('$sym' in v) {
        const name = String(v.$sym).replace(/\./g, '_')
        if (capsKnown.has(name)) return `\${cap.${name}}`
        if (!inMatcher || introduced.has(name)) return { $any: true }
        introduced.add(name)
        return { $capture: name }
      }
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, tmpl(x, inMatcher, introduced)]))
    }
    return v
  }

  for (const s of trace) {
    if (s.op === 'send' || s.op === 'batch') {
      for (const f of s.op === 'send' ? [s.frame] : s.frames) {
        const id = (f.send as Obj | undefined)?.clientMsgId
        if (typeof id === 'string' && !msgIds.has(id)) msgIds.set(id, `m${msgIds.size + 1}`)
      }
    }
  }

  let mark = 0
  for (const end of r.traceMarks.concat(trace.length > (r.traceMarks.at(-1) ?? 0) ? [trace.length] : [])) {
    for (const s of trace.slice(mark, end)) emit(s)
    mark = end
    const owed = model.simulate()
    for (const [conn, matchers] of owed) {
      const introduced = new Set<string>()
      const closes = matchers.filter((m) => 'close' in (m as Obj))
      const others = matchers.filter((m) => !('close' in (m as Obj))).map((m) => tmpl(m, true, introduced))
      if (others.length === 1) steps.push({ expect: conn, frame: others[0] as Json })
      else if (others.length > 1) steps.push({ expectSet: conn, frames: others })
      for (const c of closes) steps.push({ expectClose: conn, code: Number(((c as Obj).close as Obj).code) })
      for (const n of introduced) capsKnown.add(n)
    }
  }

  function emit(s: TraceStep): void {
    const none = new Set<string>()
    switch (s.op) {
      case 'connect': {
        const u = Math.floor(s.actor / DEVICES)
        const hello: Obj = {
          versions: [1],
          token: s.badToken ? `imwire-test.v1.\${user.u${u}}.bad` : `\${token.a${s.actor}}`,
          deviceId: `d${s.actor % DEVICES}`,
          ...(tmpl(s.hello, false, none) as Obj),
        }
        const other = firstTcp !== undefined && s.tcp !== firstTcp
        if (other) twoTransports = true
        steps.push({
          connect: `a${s.actor}`,
          conn: s.conn,
          handshake: 'none',
          ...(other ? { transport: 'other' } : {}),
        })
        steps.push({ send: s.conn, frame: { hello } })
        model.open(s.conn)
        model.clientFrame(s.conn, {
          hello: {
            ...s.hello,
            versions: (s.hello.versions as Json) ?? [1],
            token: s.badToken ? 'x.bad' : `imwire-test.v1.${ns}-u${u}`,
            deviceId: (s.hello.deviceId as Json) ?? `d${s.actor % DEVICES}`,
            resume: ((s.hello.resume as Obj[]) ?? []).map((p) => ({ ...p, epoch: '0' })),
          },
        })
        return
      }
      case 'send':
        steps.push({ send: s.conn, frame: tmpl(s.frame, false, none) })
        model.clientFrame(s.conn, s.frame)
        return
      case 'batch':
        if (s.codec === 'lz4') lz4 = true
        steps.push({ sendBatch: s.conn, codec: s.codec, frames: s.frames.map((f) => tmpl(f, false, none)) })
        model.clientBatch(s.conn, s.frames, s.codec)
        return
      case 'unknown':
        steps.push({ sendRaw: s.conn, frameHex: '' })
        model.clientUnknownBody(s.conn)
        return
      case 'disconnect':
        steps.push({ disconnect: s.conn, mode: s.graceful ? 'graceful' : 'fin' })
        model.clientGone(s.conn)
        return
      case 'restart':
        needsRestart = true
        if (s.kill) {
          model.serverGone()
          steps.push({ restartServer: { mode: 'kill' } })
        } else {
          model.serverStopping()
          // the Closes 3001 are owed before the process goes
          const owed = model.simulate()
          steps.push({ restartServer: { mode: 'graceful' } })
          for (const [conn, ms] of owed)
            for (const m of ms)
              if ('close' in (m as Obj)) steps.push({ expectClose: conn, code: 3001, closeFrame: 'optional' })
          model.serverGone()
        }
        return
    }
  }

  const actors: Obj = {}
  for (let a = 0; a < USERS * DEVICES; a++)
    actors[`a${a}`] = { user: `u${Math.floor(a / DEVICES)}`, device: `d${a % DEVICES}` }
  return {
    $schema: '../schema/session.schema.json',
    kind: 'session',
    version: 1,
    scenarios: [
      {
        id: `explore.seed-${meta.seed}`,
        title: `Found by imwire conformance explore --seed ${meta.seed}: ${meta.message}`.slice(0, 200),
        requirements: [meta.requirement],
        level: 'MUST',
        ...(lz4 ? { features: ['lz4'] } : {}),
        ...(needsRestart || twoTransports
          ? { needs: [...(needsRestart ? ['restart'] : []), ...(twoTransports ? ['two-transports'] : [])] }
          : {}),
        timeoutMs: 60000,
        actors,
        steps,
      },
    ],
  }
}

function namespaceOf(trace: TraceStep[]): string | null {
  for (const s of trace) {
    const json = JSON.stringify(s)
    const m = /"(ex-[0-9a-f]+)-[ucCb]\d"/.exec(json)
    if (m) return m[1] as string
  }
  return null
}
