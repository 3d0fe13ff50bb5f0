// Steps that judge what the server sends: expect, expectSet, expectNothing,
// expectClose, expectOpen.
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { assign, match } from '../judge/matcher.js'
import { ENUM_NUMBER_BY_NAME } from '../judge/proto-json.js'
import type { Step, StepVerb } from '../load/scenario-types.js'
import { DEFAULT_WITHIN_MS } from '../load/scenario-types.js'
import type { StepContext } from './step-context.js'
import { HarnessError, StepFailure, TimingInconclusive } from './case-types.js'
import { lagProbe } from './lag-probe.js'
import type { InboxItem, ScenarioConnection } from './scenario-connection.js'
import { navigate, type Scope } from './scope.js'
import { describe, itemJson, unexpectedFrameHint } from './step-io.js'
import { resolveTemplates } from './templating.js'
import { judgeBound, TIMER_TOLERANCE_MS } from './timing.js'

export async function execExpect(verb: StepVerb, step: Step, scope: Scope, ctx: StepContext): Promise<void> {
  const c = ctx.conn(step[verb] as string)
  const within = Math.min(ctx.scale((step.withinMs as number | undefined) ?? DEFAULT_WITHIN_MS), ctx.left())
  switch (verb) {
    case 'expect': {
      const matcher = resolveTemplates(step.frame, scope)
      const item = await c.next(within)
      if (item === null) {
        ctx.transcript.event(c.name, 'timeout', `nothing within ${Math.round(within)} ms`)
        throw new StepFailure(`expected a frame within ${Math.round(within)} ms, got nothing`, { expected: matcher })
      }
      if (item.kind !== 'frame')
        throw new StepFailure(`expected a frame, got ${describe(item)}`, { expected: matcher, actual: itemJson(item) })
      if (step.batched === true && !item.batched)
        throw new StepFailure('expected the frame inside a Batch', { expected: matcher, actual: itemJson(item) })
      if (step.batched === false && item.batched)
        throw new StepFailure('expected the frame outside any Batch', { expected: matcher, actual: item.json })
      const caps = new Map<string, unknown>()
      const mismatches = match(matcher, item.json, caps)
      if (mismatches.length > 0) {
        runnerWentSilent(c, item, ctx)
        throw new StepFailure(`frame does not match (got ${describeWithHint(c, item)})`, {
          expected: matcher,
          actual: item.json,
          mismatches,
          ...hintOf(c, item),
        })
      }
      for (const [k, v] of caps) ctx.state.captures.set(k, v)
      for (const [name, path] of Object.entries((step.capture as Record<string, string> | undefined) ?? {})) {
        let v: unknown
        try {
          v = navigate(item.json, path.split('.'), ['capture', path])
        } catch {
          throw new StepFailure(`capture ${name}: the frame has no ${path}`, { actual: item.json })
        }
        ctx.state.captures.set(name, v)
      }
      return
    }
    case 'expectSet': {
      const matchers = resolveTemplates(step.frames, scope) as unknown[]
      const got: Array<Extract<InboxItem, { kind: 'frame' }>> = []
      const deadline = performance.now() + within
      while (got.length < matchers.length) {
        const item = await c.next(Math.max(0, deadline - performance.now()))
        if (item === null) {
          ctx.transcript.event(
            c.name,
            'timeout',
            `${got.length} of ${matchers.length} frames within ${Math.round(within)} ms`,
          )
          throw new StepFailure(
            `expected ${matchers.length} frames within ${Math.round(within)} ms, got ${got.length}`,
            {
              expected: matchers,
              actual: got.map(itemJson),
            },
          )
        }
        if (item.kind !== 'frame')
          throw new StepFailure(`expected a frame, got ${describe(item)}`, {
            expected: matchers,
            actual: [...got.map(itemJson), itemJson(item)],
          })
        got.push(item)
      }
      const actual = got.map((g) => g.json)
      const assignment = assign(matchers, actual)
      if (assignment === null) {
        const hinted = got.map((g) => hintOf(c, g)).find((h) => h.hint !== undefined) ?? {}
        throw new StepFailure(
          `the frames do not match the set in any order${hinted.hint ? ` (one is ${hinted.hint})` : ''}`,
          { expected: matchers, actual, ...hinted },
        )
      }
      for (const [ei, ai] of assignment.entries()) match(matchers[ei], actual[ai], ctx.state.captures)
      return
    }
    case 'expectNothing': {
      const forMs = Math.min(ctx.scale(step.forMs as number), ctx.left())
      const item = await c.next(forMs)
      if (item !== null) runnerWentSilent(c, item, ctx)
      if (item !== null)
        throw new StepFailure(`expected nothing for ${Math.round(forMs)} ms, got ${describeWithHint(c, item)}`, {
          actual: itemJson(item),
          ...hintOf(c, item),
        })
      return
    }
    case 'expectOpen': {
      const forMs = Math.min(ctx.scale(step.forMs as number), ctx.left())
      if (await c.waitClosed(forMs))
        throw new StepFailure(`expected the connection to stay open for ${Math.round(forMs)} ms, it closed`, {
          actual: c.closedEvent,
        })
      return
    }
    case 'expectClose':
      return expectClose(step, c, within, ctx)
    default:
      throw new HarnessError(`no implementation for ${verb}`)
  }
}

function closeCodes(step: Step): number[] {
  const raw = (step.codes as unknown[] | undefined) ?? [step.code]
  return raw.map((v) => {
    if (typeof v === 'number') return v
    const n = ENUM_NUMBER_BY_NAME.get(String(v))
    if (n === undefined) throw new HarnessError(`unknown close code ${String(v)}`)
    return n
  })
}

function codeName(n: number): string {
  return `${n}${CloseCode[n] ? ` ${CloseCode[n]}` : ''}`
}

/**
 * Where a bound is measured from. `since: "open"`: the transport's opening
 * ([HS-8] counts from accept). Otherwise the lower bound counts from the
 * runner's last write (the server cannot have started its timer earlier)
 * and the upper bound from the last write or read, whichever is later (it
 * cannot have started it later, give or take one network hop).
 */
function boundReferences(step: Step, c: ScenarioConnection): { lower: number; upper: number } {
  if (step.since === 'open') return { lower: c.openedAt, upper: c.openedAt }
  return { lower: c.lastWriteAt, upper: Math.max(c.lastWriteAt, c.lastReadAt) }
}

/**
 * How late the runner may have noticed something at `t`: a stall overlapping t, or one that
 * ended just before (the socket data waiting meanwhile is read only on the next loop turn).
 */
function lagAround(t: number): number {
  return lagProbe.maxLag(t - TIMER_TOLERANCE_MS, t)
}

/** Fails, or ends the case as inconclusive, when the item's arrival breaks the step's protocol bounds. */
function checkBounds(step: Step, refs: { lower: number; upper: number }, arrived: number, what: string): void {
  const lower = step.notBeforeMs as number | undefined
  const upper = step.beforeMs as number | undefined
  // The runner saw the close up to `atArrival` ms late; it wrote at refs.lower exactly, but may have
  // read the frame that set refs.upper late too.
  const atArrival = lagAround(arrived)
  const verdicts = [
    ...(lower !== undefined ? [judgeBound({ notBeforeMs: lower }, arrived - refs.lower, atArrival)] : []),
    ...(upper !== undefined
      ? [judgeBound({ beforeMs: upper }, arrived - refs.upper, Math.max(atArrival, lagAround(refs.upper)))]
      : []),
  ]
  for (const v of verdicts) if (v.verdict === 'fail') throw new StepFailure(`${what} ${v.why}`)
  for (const v of verdicts) if (v.verdict === 'inconclusive') throw new TimingInconclusive(`${what}: ${v.why}`)
}

async function expectClose(step: Step, c: ScenarioConnection, within: number, ctx: StepContext): Promise<void> {
  const codes = closeCodes(step)
  const want = codes.map(codeName).join(' or ')
  const required = step.closeFrame !== 'optional'
  const refs = boundReferences(step, c)
  const upper = step.beforeMs as number | undefined
  // The harness waits `within` (scaled), but never less than the protocol's own upper bound.
  const wait =
    upper === undefined ? within : Math.max(within, refs.upper + upper + TIMER_TOLERANCE_MS - performance.now())
  const deadline = performance.now() + Math.min(wait, ctx.left())
  let first = await c.next(
    upper === undefined
      ? deadline - performance.now()
      : Math.max(0, refs.upper + upper + TIMER_TOLERANCE_MS - performance.now()),
  )
  if (first === null && upper !== undefined) {
    // The upper bound has passed. Without runner lag that is a certain failure; with lag, wait out
    // the harness window and judge the arrival (or its absence) allowing for the lag.
    const lag = Math.max(lagAround(performance.now()), lagAround(refs.upper))
    if (lag > TIMER_TOLERANCE_MS) first = await c.next(Math.max(0, deadline - performance.now()))
    if (first === null) {
      const silent = performance.now() - refs.upper
      const v = judgeBound({ beforeMs: upper }, silent, Math.max(lagAround(performance.now()), lagAround(refs.upper)))
      ctx.transcript.event(c.name, 'timeout', `no close within the ${upper} ms bound`)
      if (v.verdict === 'inconclusive') throw new TimingInconclusive(`no Close ${want} seen: ${v.why}`)
      throw new StepFailure(
        `expected Close ${want} within the ${upper} ms bound (± ${TIMER_TOLERANCE_MS} ms), the connection stayed open and silent for ${Math.round(silent)} ms`,
        { expected: { close: { code: codes } } },
      )
    }
  }
  if (first === null) {
    ctx.transcript.event(c.name, 'timeout', `no close within ${Math.round(within)} ms`)
    throw new StepFailure(
      `expected Close ${want} within ${Math.round(within)} ms, the connection stayed open and silent`,
      { expected: { close: { code: codes } } },
    )
  }
  const closeAt = first.mono
  const early = () => {
    const lowerOrUpper = step.notBeforeMs !== undefined || upper !== undefined
    if (lowerOrUpper) checkBounds(step, refs, closeAt, 'closed')
  }
  if (first.kind === 'frame') {
    const b = first.frame.body
    if (b.case !== 'close')
      throw new StepFailure(`expected Close ${want}, got ${describeWithHint(c, first)}`, {
        expected: { close: { code: codes } },
        actual: first.json,
        ...hintOf(c, first),
      })
    if (!codes.includes(b.value.code))
      throw new StepFailure(`expected Close ${want}, got Close ${codeName(b.value.code)}`, {
        expected: { close: { code: codes } },
        actual: first.json,
      })
    early()
    // [ERR-2] the Close is the last frame, then the connection closes
    const after = await c.next(Math.max(0, deadline - performance.now()))
    if (after === null)
      throw new StepFailure(
        `Close ${codeName(b.value.code)} received but the connection was not closed within ${Math.round(within)} ms [ERR-2]`,
      )
    if (after.kind !== 'closed')
      throw new StepFailure(`${describe(after)} after the Close frame: the Close must be the last frame [ERR-2]`, {
        actual: itemJson(after),
      })
    if (after.event.how === 'ws-close' && after.event.wsCode !== b.value.code) {
      throw new StepFailure(
        `WebSocket close code ${after.event.wsCode} differs from the Close frame's ${b.value.code} [ERR-2]`,
        { expected: b.value.code, actual: after.event.wsCode },
      )
    }
    return
  }
  if (first.kind === 'garbage')
    throw new StepFailure(`expected Close ${want}, got ${describe(first)}`, { actual: itemJson(first) })
  early()
  if (required)
    throw new StepFailure(
      `the connection closed (${first.event.how}) without a Close frame; expected Close ${want} first [ERR-2]`,
      { actual: itemJson(first) },
    )
  if (first.event.how === 'ws-close' && !codes.includes(first.event.wsCode ?? -1)) {
    throw new StepFailure(`WebSocket close code ${first.event.wsCode}, expected ${want}`, {
      expected: codes,
      actual: first.event.wsCode,
    })
  }
}

/**
 * An unexpected Close 3002 (HEARTBEAT_TIMEOUT) after the runner wrote nothing on the connection
 * for 1.5 heartbeats while it lagged: its keep-alive Pings (every heartbeat/3) or the scenario's
 * own timed writes went out late, so the server's close is right or cannot be judged —
 * inconclusive, not a failure. Without lag the silence was the scenario's, and the close is judged.
 */
function runnerWentSilent(c: ScenarioConnection, item: InboxItem, ctx: StepContext): void {
  const welcome = ctx.state.captures.get(`${c.name}.welcome`) as { heartbeatMs?: unknown } | undefined
  const hb = c.keepaliveHeartbeatMs ?? (Number(welcome?.heartbeatMs) || null)
  if (hb === null || item.kind !== 'frame') return
  const b = item.frame.body
  if (b.case !== 'close' || b.value.code !== CloseCode.HEARTBEAT_TIMEOUT) return
  // The server closed for silence some time before the Close arrived: look at the runner's writes
  // over the last few heartbeats for a gap of 1.5 heartbeats.
  const from = item.mono - 3 * hb
  const silent = c.longestWriteGap(from, item.mono)
  const lag = lagProbe.maxLag(from, item.mono)
  if (silent >= hb * 1.5 - TIMER_TOLERANCE_MS && lag > TIMER_TOLERANCE_MS)
    throw new TimingInconclusive(
      `Close 3002 after the runner wrote nothing for ${Math.round(silent)} ms (heartbeat ${hb} ms): runner lagged ${Math.round(lag)} ms, so its writes went out late`,
    )
}

function hintOf(c: ScenarioConnection, item: InboxItem): { hint?: string } {
  const hint = unexpectedFrameHint(c, item)
  return hint === undefined ? {} : { hint }
}

function describeWithHint(c: ScenarioConnection, item: InboxItem): string {
  const hint = unexpectedFrameHint(c, item)
  return hint === undefined ? describe(item) : `${describe(item)}: ${hint}`
}
