// Walks a scenario's steps: control flow (repeat, parallel, sleep, set,
// assert, restartServer) here, the verbs that talk to the server in
// step-io.ts and step-expect.ts. A thrown error leaves wrapped in Located,
// which names the step that raised it.
import type { Step } from '../load/scenario-types.js'
import { verbOf } from '../load/scenario-types.js'
import { HarnessError, StepFailure } from './case-types.js'
import type { Scope } from './scope.js'
import { runAssert } from './step-assert.js'
import type { StepContext } from './step-context.js'
import { execExpect } from './step-expect.js'
import { execIo } from './step-io.js'
import { resolveTemplates, toBigInt } from './templating.js'

/** An error with the path and the JSON of the step that raised it. */
export class Located extends Error {
  constructor(
    override readonly cause: unknown,
    readonly path: string,
    readonly step: Step,
  ) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

export class StepRunner {
  /** Set when the case is over (finished, failed or out of budget): remaining steps do not start. */
  done = false

  constructor(private readonly ctx: StepContext) {}

  async run(steps: Step[], prefix: string, scope: Scope): Promise<void> {
    for (let i = 0; i < steps.length; i++) {
      if (this.done) return
      const step = steps[i] as Step
      const path = `${prefix}[${i}]`
      try {
        await this.step(step, path, scope)
      } catch (err) {
        if (err instanceof Located) throw err
        throw new Located(err, path, step)
      }
    }
  }

  private async step(step: Step, path: string, scope: Scope): Promise<void> {
    const ctx = this.ctx
    const verb = verbOf(step)
    ctx.transcript.event(
      '',
      'step',
      `${path} ${verb}${typeof step[verb] === 'string' ? ` ${step[verb] as string}` : ''}${step.comment ? ` — ${step.comment as string}` : ''}`,
    )
    switch (verb) {
      case 'repeat': {
        const as = (step.as as string | undefined) ?? 'i'
        const n = toBigInt(resolveTemplates(step.repeat, scope))
        if (n === null || n < 0n || n > 10_000n)
          throw new HarnessError(`repeat count ${JSON.stringify(step.repeat)} is not an integer from 0 to 10000`)
        for (let i = 0; i < Number(n); i++)
          await this.run(step.steps as Step[], `${path}.repeat(${as}=${i})`, scope.withLoop(as, i))
        return
      }
      case 'parallel': {
        const branches = step.parallel as Step[][]
        await Promise.all(branches.map((b, j) => this.run(b, `${path}.parallel[${j}]`, scope)))
        return
      }
      case 'sleep': {
        // `scaled: false` paces traffic against a server timer ([HB-2]): --time-scale must not stretch it.
        const ms = step.scaled === false ? (step.sleep as number) : ctx.scale(step.sleep as number)
        await new Promise((r) => setTimeout(r, Math.min(ms, ctx.left())))
        return
      }
      case 'set':
        for (const [k, v] of Object.entries(step.set as object)) ctx.state.vars.set(k, resolveTemplates(v, scope))
        return
      case 'assert':
        runAssert(step.assert as Record<string, unknown>, scope, ctx)
        return
      case 'restartServer':
        return this.restart(step)
      case 'expect':
      case 'expectSet':
      case 'expectNothing':
      case 'expectClose':
      case 'expectOpen':
        await execExpect(verb, step, scope, ctx)
        return
      default:
        await execIo(verb, step, scope, ctx)
    }
  }

  private async restart(step: Step): Promise<void> {
    const { env, transcript } = this.ctx
    if (!env.server) throw new HarnessError('restartServer without a restartable server (should have been skipped)')
    const mode = ((step.restartServer as { mode?: string }).mode ?? 'kill') as 'kill' | 'graceful'
    transcript.event('', 'restart', `server restart (${mode})`)
    let lingeredMs: number | undefined
    try {
      ;({ lingeredMs } = await env.server.restart(mode))
    } catch (err) {
      throw new StepFailure(`the server did not come back after the restart: ${(err as Error).message}`)
    }
    transcript.event('', 'restart', 'server listening again')
    // Checked after the server is back, so the next case finds it listening.
    if (lingeredMs !== undefined)
      throw new StepFailure(
        `the server was still running ${lingeredMs} ms after SIGTERM and had to be killed: a graceful shutdown ends with the process exiting [ERR-6]`,
      )
  }
}
