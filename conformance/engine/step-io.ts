// Steps that open, write to and close connections: connect, send, sendBatch,
// sendRaw, sendText, disconnect, silence.
import { create } from '@bufbuild/protobuf'
import { delimit, encodeBatch, encodeFrame, HEARTBEAT_DEFAULT_MS } from '../../src/codec/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { BatchCodec, type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { type OpenOptions, otherTransport, TargetUnreachable, UpgradeRefused } from '../drivers/transport.js'
import { WS_SUBPROTOCOL } from '../drivers/ws-transport.js'
import { ENUM_NUMBER_BY_NAME, frameFromJson } from '../judge/proto-json.js'
import { match } from '../judge/matcher.js'
import type { Step, StepVerb } from '../load/scenario-types.js'
import { DEFAULT_WITHIN_MS } from '../load/scenario-types.js'
import type { StepContext } from './step-context.js'
import { stalledUpgradeStep } from './step-stalled-upgrade.js'
import { HarnessError, StepFailure } from './case-types.js'
import { ScenarioConnection, type InboxItem } from './scenario-connection.js'
import type { Scope } from './scope.js'
import { hexToBytes, resolveTemplates, toBigInt } from './templating.js'

/** Handshake and replay can take longer than a single expect. */
const DEFAULT_CONNECT_WITHIN_MS = 5_000
const CONNECT_TIMEOUT_MS = 5_000

export async function execIo(verb: StepVerb, step: Step, scope: Scope, ctx: StepContext): Promise<void> {
  switch (verb) {
    case 'connect':
      return connectStep(step, scope, ctx)
    case 'send': {
      ctx.conn(step.send as string).sendFrame(buildFrame(step.frame, scope))
      return
    }
    case 'sendBatch': {
      const c = ctx.conn(step.sendBatch as string)
      c.sendFrame(buildBatch(step, scope))
      return
    }
    case 'sendRaw':
      return sendRawStep(step, scope, ctx)
    case 'sendText': {
      const c = ctx.conn(step.sendText as string)
      if (c.transport.kind !== 'ws')
        throw new HarnessError('sendText on a TCP connection (the scenario must need ws-only)')
      ctx.transcript.add({
        conn: c.name,
        dir: 'out',
        event: 'text',
        detail: String(resolveTemplates(step.text, scope)),
      })
      c.transport.writeText(String(resolveTemplates(step.text, scope)))
      return
    }
    case 'disconnect':
      return disconnectStep(step, scope, ctx)
    case 'silence': {
      const c = ctx.conn(step.silence as string)
      // Not scaled: a silence is measured against the server's heartbeat
      // timer ([HB-2]), which --time-scale does not stretch.
      ctx.transcript.event(c.name, 'note', `silent for ${step.forMs as number} ms`)
      await c.silence(Math.min(step.forMs as number, ctx.left()))
      return
    }
    default:
      throw new HarnessError(`no implementation for step ${verb}`)
  }
}

export function buildFrame(json: unknown, scope: Scope): Frame {
  const resolved = resolveTemplates(json, scope)
  try {
    return frameFromJson(resolved)
  } catch (err) {
    throw new HarnessError(
      `frame does not convert to protobuf: ${(err as Error).message}: ${JSON.stringify(resolved).slice(0, 300)}`,
    )
  }
}

function buildBatch(step: Step, scope: Scope): Frame {
  const frames = (step.frames as unknown[]).map((f) => buildFrame(f, scope))
  const batch = encodeBatch(frames, (step.codec as 'none' | 'lz4' | undefined) ?? 'none')
  const o = step.override as Record<string, unknown> | undefined
  if (o && batch.body.case === 'batch') {
    const b = batch.body.value
    if (o.codec !== undefined)
      b.codec = typeof o.codec === 'number' ? o.codec : ((ENUM_NUMBER_BY_NAME.get(String(o.codec)) ?? -1) as BatchCodec)
    if (o.count !== undefined) b.count = Number(toBigInt(resolveTemplates(o.count, scope)) ?? 0n)
    if (o.uncompressedLength !== undefined)
      b.uncompressedLength = Number(toBigInt(resolveTemplates(o.uncompressedLength, scope)) ?? 0n)
    if (o.appendHex !== undefined) {
      const extra = hexToBytes(String(resolveTemplates(o.appendHex, scope)))
      const p = new Uint8Array(b.payload.length + extra.length)
      p.set(b.payload, 0)
      p.set(extra, b.payload.length)
      b.payload = p
      // A NONE batch keeps uncompressed_length = payload length unless the vector sets it, so
      // appended bytes break only the rule the vector aims at (ids make the length vary per run).
      if (o.uncompressedLength === undefined && b.codec === BatchCodec.NONE) b.uncompressedLength = p.length
    }
  }
  return batch
}

async function sendRawStep(step: Step, scope: Scope, ctx: StepContext): Promise<void> {
  const c = ctx.conn(step.sendRaw as string)
  if (step.hex !== undefined) {
    c.sendRaw(hexToBytes(String(resolveTemplates(step.hex, scope))), 'raw bytes')
    return
  }
  if (step.wsBytesHex !== undefined) {
    const bytes = hexToBytes(String(resolveTemplates(step.wsBytesHex, scope)))
    if (c.transport.writeWsBytes === undefined)
      throw new HarnessError('sendRaw wsBytesHex on a TCP connection (the scenario must need ws-only)')
    ctx.transcript.raw(c.name, 'out', bytes, 'raw WebSocket bytes (under the WebSocket framing)')
    c.transport.writeWsBytes(bytes)
    return
  }
  if (step.frameHex !== undefined) {
    const bytes = hexToBytes(String(resolveTemplates(step.frameHex, scope)))
    ctx.transcript.raw(c.name, 'out', bytes, 'raw frame bytes')
    c.transport.writeFrame(bytes)
    return
  }
  const frames = (step.frames as unknown[]).map((f) => encodeFrame(buildFrame(f, scope)))
  if (c.transport.kind === 'ws') {
    for (const f of frames) {
      ctx.transcript.raw(c.name, 'out', f, 'frame (one message)')
      c.transport.writeFrame(f)
    }
    return
  }
  const parts = frames.map((f) => delimit(f))
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    all.set(p, off)
    off += p.length
  }
  const chunk = (step.chunkBytes as number | undefined) ?? all.length
  await c.sendChunks(all, chunk, `${frames.length} frame(s) in writes of ${chunk} bytes`)
}

/** How long a connection refused or reset before its Welcome waits for news of a server crash. */
const CRASH_NOTICE_MS = 1_000

/** The connection was refused or closed before the Welcome (the server may have been dying). */
class LostBeforeWelcome extends StepFailure {}

async function connectStep(step: Step, scope: Scope, ctx: StepContext): Promise<void> {
  const mark = ctx.env.crashMark?.()
  try {
    await connectOnce(step, scope, ctx)
  } catch (err) {
    // A spawned server that crashed in the previous case may still accept a
    // connection while its process is being torn down, and reset it before
    // the runner has seen the exit. That is the crash's evidence (recorded
    // against the run, [ERR-5]), not this case's: connect to the new process.
    if (!(err instanceof LostBeforeWelcome) || mark === undefined || !ctx.env.diedSince) throw err
    if (!(await ctx.env.diedSince(mark, Math.min(CRASH_NOTICE_MS, ctx.left())))) throw err
    ctx.transcript.event(
      (step.conn as string | undefined) ?? (step.connect as string),
      'note',
      `${err.message}: the server process died meanwhile and was started again; connecting to the new process`,
    )
    await connectOnce(step, scope, ctx)
  }
}

async function connectOnce(step: Step, scope: Scope, ctx: StepContext): Promise<void> {
  const actorName = step.connect as string
  const actor = ctx.env.scenario.actors[actorName]
  if (!actor) throw new HarnessError(`unknown actor ${actorName}`)
  const name = (step.conn as string | undefined) ?? actorName
  const mode =
    step.handshake === false || step.handshake === 'none' ? 'none' : step.handshake === 'welcome' ? 'welcome' : 'full'
  const old = ctx.conns.get(name)
  if (old && !old.closed) old.dispose()
  const options: OpenOptions = Array.isArray(step.subprotocols) ? { subprotocols: step.subprotocols as string[] } : {}
  if (step.refused === true) return refusedStep(name, options, ctx)
  if (step.stallUpgrade === true)
    return stalledUpgradeStep(name, Math.min(ctx.scale(CONNECT_TIMEOUT_MS), ctx.left()), ctx)
  // "transport": "other" puts this connection on the transport the case does
  // not run over, so one user or device can be on TCP and WebSocket at once.
  const kind = step.transport === 'other' ? otherTransport(ctx.env.transport) : ctx.env.transport
  // A cluster: each connection of the case goes to the next node (node-placement.ts).
  const node = ctx.env.nodes?.next(name)
  const onNode = node === undefined ? '' : ` on ${ctx.env.nodes?.describe(node, kind)}`
  let transport: Awaited<ReturnType<StepContext['env']['open']>>
  try {
    transport = await ctx.env.open(kind, Math.min(ctx.scale(CONNECT_TIMEOUT_MS), ctx.left()), options, node)
  } catch (err) {
    ctx.transcript.event(name, 'connect-failed', `${(err as Error).message}${onNode}`)
    throw new LostBeforeWelcome(
      `could not connect${onNode}: ${(err as Error).message}${err instanceof TargetUnreachable ? ' (server down?)' : ''}`,
    )
  }
  const hello = helloJson(step, actorName, scope, ctx)
  const c = new ScenarioConnection(transport, {
    name,
    transcript: ctx.transcript,
    raw: step.raw === true,
    latency: ctx.latency,
    ...(Array.isArray(step.ignore) ? { ignore: resolveTemplates(step.ignore, scope) as unknown[] } : {}),
    ...(typeof hello.maxFrameBytes === 'number' && hello.maxFrameBytes > 0
      ? { maxFrameBytes: hello.maxFrameBytes }
      : {}),
  })
  ctx.conns.set(name, c)
  if (typeof hello.deviceId === 'string') c.identity = { userId: ctx.names.userId(actorName), deviceId: hello.deviceId }
  ctx.transcript.event(
    name,
    'connect',
    `${kind} as ${actorName} (${ctx.names.userId(actorName)} / ${actor.device})${
      transport.kind === 'ws' ? `, subprotocol '${transport.subprotocol ?? ''}'` : ''
    }${onNode}`,
  )
  // [FRM-2] the server selects imwire.v1, even when other subprotocols are offered too (the ws
  // client only checks that the selected one was offered)
  if (transport.kind === 'ws' && transport.subprotocol !== WS_SUBPROTOCOL)
    throw new StepFailure(
      `the server completed the WebSocket upgrade with subprotocol '${transport.subprotocol ?? ''}', not '${WS_SUBPROTOCOL}' [FRM-2]`,
      { expected: WS_SUBPROTOCOL, actual: transport.subprotocol ?? '' },
    )
  if (mode === 'none') return
  c.sendFrame(buildFrame({ hello }, scope))
  const within = Math.min(ctx.scale((step.withinMs as number | undefined) ?? DEFAULT_CONNECT_WITHIN_MS), ctx.left())
  const first = await c.next(within)
  if (first === null) throw new StepFailure(`no Welcome within ${within} ms`)
  if (first.kind === 'closed')
    throw new LostBeforeWelcome(`expected Welcome, got ${describe(first)}`, { actual: itemJson(first) })
  if (first.kind !== 'frame' || first.frame.body.case !== 'welcome')
    throw new StepFailure(`expected Welcome, got ${describe(first)}`, { actual: itemJson(first) })
  const welcome = (first.json as { welcome: Record<string, unknown> }).welcome
  ctx.state.captures.set(`${name}.welcome`, welcome)
  // [HS-5] enabled features are a subset of the requested ones
  const requested = new Set((hello.features as string[] | undefined) ?? [])
  const extra = ((welcome.features as string[] | undefined) ?? []).filter((f) => !requested.has(f))
  if (extra.length > 0)
    throw new StepFailure(`Welcome enables features that were not requested: ${extra.join(', ')} [HS-5]`, {
      actual: welcome.features,
    })
  if (step.welcome !== undefined) {
    const expected = resolveTemplates(step.welcome, scope)
    const mismatches = match(expected, welcome, ctx.state.captures)
    if (mismatches.length > 0)
      throw new StepFailure('Welcome does not match', { expected, actual: welcome, mismatches })
  }
  if (step.autoPing !== false) c.startKeepalive(Number(welcome.heartbeatMs) || HEARTBEAT_DEFAULT_MS)
  if (mode === 'welcome') return
  const drop = step.skipReplay === true
  const { item } = await c.takeFirst((i) => i.kind !== 'frame' || i.frame.body.case === 'replayComplete', within, drop)
  if (item === null) throw new StepFailure(`no ReplayComplete within ${within} ms after Welcome [HS-11]`)
  if (item.kind !== 'frame')
    throw new StepFailure(`expected ReplayComplete, got ${describe(item)} [HS-11]`, { actual: itemJson(item) })
  ctx.state.captures.set(`${name}.replayComplete`, (item.json as { replayComplete: unknown }).replayComplete)
}

/**
 * `connect` with `refused: true`: the server must refuse to open the
 * connection at all — on WebSocket, answer the upgrade with an HTTP error
 * status ([FRM-12]). Completing the upgrade fails the step, whatever follows.
 */
async function refusedStep(name: string, options: OpenOptions, ctx: StepContext): Promise<void> {
  const offered = options.subprotocols ?? ['imwire.v1']
  const what = `WebSocket upgrade offering ${offered.length ? offered.map((p) => `'${p}'`).join(', ') : 'no subprotocol'}`
  const node = ctx.env.nodes?.next(name)
  const onNode = node === undefined ? '' : ` on ${ctx.env.nodes?.describe(node, ctx.env.transport)}`
  ctx.transcript.event(name, 'connect', `${ctx.env.transport}: ${what}; the server must refuse it${onNode}`)
  let transport: Awaited<ReturnType<StepContext['env']['open']>>
  try {
    transport = await ctx.env.open(
      ctx.env.transport,
      Math.min(ctx.scale(CONNECT_TIMEOUT_MS), ctx.left()),
      options,
      node,
    )
  } catch (err) {
    if (err instanceof UpgradeRefused) {
      ctx.transcript.event(name, 'refused', `HTTP ${err.status} ${err.statusText}`.trim())
      if (err.status >= 400 && err.status <= 599) return
      throw new StepFailure(`the ${what} was answered with HTTP ${err.status}, not an error status [FRM-12]`, {
        expected: 'an HTTP error status (400 recommended)',
        actual: `HTTP ${err.status} ${err.statusText}`.trim(),
      })
    }
    ctx.transcript.event(name, 'connect-failed', (err as Error).message)
    if (err instanceof TargetUnreachable) throw new StepFailure(`could not connect: ${err.message} (server down?)`)
    // ws rejects a 101 whose subprotocol was not offered: the server did complete the upgrade.
    throw new StepFailure(`the ${what} was not refused with an HTTP error status: ${(err as Error).message} [FRM-12]`, {
      expected: 'an HTTP error status (400 recommended)',
      actual: (err as Error).message,
    })
  }
  const selected = transport.subprotocol ? `subprotocol '${transport.subprotocol}'` : 'no subprotocol'
  ctx.transcript.event(name, 'upgraded', `HTTP 101, ${selected}`)
  transport.end(1000)
  throw new StepFailure(`the server completed the ${what} (HTTP 101, ${selected}) [FRM-12]`, {
    expected: 'an HTTP error status (400 recommended)',
    actual: `HTTP 101 Switching Protocols, ${selected}`,
  })
}

function helloJson(step: Step, actor: string, scope: Scope, ctx: StepContext): Record<string, unknown> {
  const hello: Record<string, unknown> = {
    versions: [1],
    token: ctx.names.token(actor),
    deviceId: ctx.names.deviceId(actor),
    features: [...ctx.env.scenario.features],
  }
  const overrides = resolveTemplates(step.hello ?? {}, scope) as Record<string, unknown>
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) delete hello[k]
    else hello[k] = v
  }
  if (Array.isArray(hello.features) && hello.features.length === 0) delete hello.features
  return hello
}

async function disconnectStep(step: Step, scope: Scope, ctx: StepContext): Promise<void> {
  const c = ctx.conn(step.disconnect as string)
  const mode = (step.mode as string | undefined) ?? 'graceful'
  c.stopKeepalive()
  c.closedByUs = true
  ctx.transcript.event(c.name, 'disconnect', mode)
  switch (mode) {
    case 'graceful':
      c.sendFrame(create(FrameSchema, { body: { case: 'close', value: { code: CloseCode.NORMAL, reason: 'bye' } } }))
      c.transport.end(CloseCode.NORMAL)
      return
    case 'fin':
      c.transport.end(1000)
      return
    case 'abrupt':
      c.transport.reset()
      return
    case 'mid-frame': {
      if (step.frame === undefined) throw new HarnessError('mid-frame needs a frame')
      const bytes = encodeFrame(buildFrame(step.frame, scope))
      ctx.transcript.raw(c.name, 'out', bytes, 'first half of this frame, then end of stream')
      c.transport.cutFrame(bytes)
      return
    }
    case 'mid-batch': {
      if (!Array.isArray(step.frames)) throw new HarnessError('mid-batch needs frames')
      const bytes = encodeFrame(buildBatch(step, scope))
      ctx.transcript.raw(c.name, 'out', bytes, 'first half of this batch, then end of stream')
      c.transport.cutFrame(bytes)
      return
    }
    default:
      throw new HarnessError(`unknown disconnect mode ${mode}`)
  }
}

export function describe(item: InboxItem): string {
  if (item.kind === 'frame') {
    const b = item.frame.body
    if (b.case === 'close') return `Close ${b.value.code} (${CloseCode[b.value.code] ?? '?'}) "${b.value.reason}"`
    if (b.case === 'error') return `Error ${b.value.code}`
    return b.case ?? 'an empty frame'
  }
  if (item.kind === 'garbage') return `garbage: ${item.detail}`
  const e = item.event
  return `connection closed (${e.how}${e.wsCode !== undefined ? ` ws ${e.wsCode}` : ''})`
}

/**
 * Names the rule an unexpected frame breaks when the frame alone shows it, so
 * that one wrong comparison in a server reads as one cause in the report.
 */
export function unexpectedFrameHint(c: ScenarioConnection, item: InboxItem): string | undefined {
  if (item.kind !== 'frame' || c.identity === null) return undefined
  const b = item.frame.body
  if (b.case === 'deliver' && !b.value.replayed) {
    const m = b.value.message
    if (m && m.senderUserId === c.identity.userId && m.senderDeviceId === c.identity.deviceId)
      return "a Deliver of this device's own message [DLV-5]"
  }
  return undefined
}

export function itemJson(item: InboxItem): unknown {
  if (item.kind === 'frame') return item.json
  if (item.kind === 'garbage') return { garbage: item.detail }
  return { closed: item.event }
}

export const DEFAULT_EXPECT_MS = DEFAULT_WITHIN_MS
