// The `assert` step: checks over captured values and over the Deliver frames
// a connection has received so far.
import { deepEquals, match } from '../judge/matcher.js'
import { HarnessError, StepFailure } from './case-types.js'
import type { Scope } from './scope.js'
import type { StepContext } from './step-context.js'
import { resolveTemplates, toBigInt } from './templating.js'

export function runAssert(a: Record<string, unknown>, scope: Scope, ctx: StepContext): void {
  const [kind, rawArg] = Object.entries(a)[0] as [string, unknown]
  if (kind === 'dense') {
    assertDense(rawArg as DenseArg, scope, ctx)
    return
  }
  const arg = resolveTemplates(rawArg, scope)
  switch (kind) {
    case 'equal': {
      const vals = arg as unknown[]
      if (!vals.every((v) => deepEquals(vals[0], v)))
        throw new StepFailure('values differ', { expected: vals[0], actual: vals })
      return
    }
    case 'notEqual': {
      const vals = arg as unknown[]
      for (let i = 0; i < vals.length; i++)
        for (let j = i + 1; j < vals.length; j++)
          if (deepEquals(vals[i], vals[j])) throw new StepFailure(`values ${i} and ${j} are equal`, { actual: vals })
      return
    }
    case 'increasing': {
      const vals = (arg as unknown[]).map((v) => toBigInt(v))
      for (let i = 1; i < vals.length; i++) {
        const a0 = vals[i - 1]
        const a1 = vals[i]
        if (a0 === null || a1 === null || a0 === undefined || a1 === undefined || !(a1 > a0))
          throw new StepFailure('values are not strictly increasing', { actual: arg })
      }
      return
    }
    case 'match': {
      const m = arg as { value: unknown; matcher: unknown }
      const mismatches = match(m.matcher, m.value, ctx.state.captures)
      if (mismatches.length > 0)
        throw new StepFailure('value does not match', { expected: m.matcher, actual: m.value, mismatches })
      return
    }
    default:
      throw new HarnessError(`unknown assert ${kind}`)
  }
}

interface DenseArg {
  conn: string
  conversation: string
  from?: unknown
  to?: unknown
  /** Leave out the seqs of the SendAcks received on conn for the conversation: its own messages ([DLV-5]). */
  exceptOwn?: boolean
}

function assertDense(d: DenseArg, scope: Scope, ctx: StepContext): void {
  const conv = String(resolveTemplates(d.conversation, scope))
  const from = toBigInt(resolveTemplates(d.from ?? 1, scope)) ?? 1n
  const to = d.to === undefined ? null : toBigInt(resolveTemplates(d.to, scope))
  const received = ctx.conn(d.conn).received
  const seqs = received
    .filter((f) => f.body.case === 'deliver' && f.body.value.message?.conversationId === conv)
    .map((f) => (f.body.case === 'deliver' ? (f.body.value.message?.seq ?? 0n) : 0n))
  const own = new Set<bigint>()
  if (d.exceptOwn === true)
    for (const f of received)
      if (f.body.case === 'sendAck' && f.body.value.conversationId === conv) own.add(f.body.value.seq)
  const expected: string[] = []
  const last = to ?? (seqs.length > 0 ? from + BigInt(seqs.length + own.size) - 1n : from - 1n)
  for (let q = from; q <= last; q++) if (!own.has(q)) expected.push(q.toString())
  const actual = seqs.map(String)
  if (!deepEquals(expected, actual)) {
    throw new StepFailure(
      `Deliver seqs for ${conv} on ${d.conn} are not the dense run ${from}..${last}${own.size > 0 ? ` without its own ${own.size} message(s)` : ''} [DLV-1] [ORD-1]${own.size > 0 ? ' [DLV-5]' : ''}`,
      {
        expected,
        actual,
      },
    )
  }
}
