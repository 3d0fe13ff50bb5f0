// `connect` with `stallUpgrade: true` (WebSocket cases): a TCP connection to
// the WebSocket endpoint whose upgrade request never completes must be closed
// by the server within the handshake cap, counted from accept [HS-17]. The
// bound is the protocol's (10 s, [HS-8]), never scaled; a runner that lagged
// while it waited makes the verdict inconclusive.
import { HANDSHAKE_TIMEOUT_MAX_MS } from '../../src/codec/index.js'
import { openStalledUpgrade } from '../drivers/stalled-upgrade.js'
import { StepFailure, TimingInconclusive } from './case-types.js'
import { lagProbe } from './lag-probe.js'
import type { StepContext } from './step-context.js'
import { judgeBound, TIMER_TOLERANCE_MS } from './timing.js'

export async function stalledUpgradeStep(name: string, connectTimeoutMs: number, ctx: StepContext): Promise<void> {
  const node = ctx.env.nodes?.next(name)
  const url = ctx.env.wsAddress?.(node)
  if (url === undefined) throw new StepFailure('the target has no WebSocket address for a stalled upgrade request')
  const s = await openStalledUpgrade(url, connectTimeoutMs)
  const onNode = node === undefined ? '' : ` on ${ctx.env.nodes?.describe(node, 'ws')}`
  ctx.transcript.event(
    name,
    'connect',
    `ws: a TCP connection whose upgrade request stops before the blank line${onNode}`,
  )
  const bound = HANDSHAKE_TIMEOUT_MAX_MS
  // The harness waits out the bound (and the budget allows for more when scaled).
  const waitMs = Math.max(0, Math.min(bound + TIMER_TOLERANCE_MS + ctx.scale(1000), ctx.left()))
  let timer: NodeJS.Timeout | undefined
  const r = await Promise.race([
    s.closed,
    new Promise<null>((done) => {
      timer = setTimeout(() => done(null), waitMs)
    }),
  ])
  clearTimeout(timer)
  const now = r?.at ?? performance.now()
  const lag = lagProbe.maxLag(s.openedAt - TIMER_TOLERANCE_MS, now)
  if (r === null) {
    s.destroy()
    ctx.transcript.event(name, 'timeout', `still open ${Math.round(now - s.openedAt)} ms after accept`)
  } else
    ctx.transcript.event(
      name,
      'closed',
      `by the server after ${Math.round(r.at - s.openedAt)} ms (${r.bytes} bytes first)`,
    )
  const v = judgeBound({ beforeMs: bound }, (r?.at ?? now) - s.openedAt, lag)
  if (v.verdict === 'inconclusive') throw new TimingInconclusive(`stalled upgrade request: ${v.why}`)
  if (v.verdict === 'fail' || r === null)
    throw new StepFailure(
      r === null
        ? `a TCP connection whose WebSocket upgrade request never completed was still open ${Math.round(now - s.openedAt)} ms after accept; the handshake bound is ${bound} ms [HS-17]`
        : `the stalled upgrade request was closed ${v.verdict === 'fail' ? v.why : ''} [HS-17]`,
    )
}
