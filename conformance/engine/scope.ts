// Fresh names per case and the values templates resolve to. Every case gets
// its own users and conversations ("cf-<run>-<case#>-<name>"), so cases run
// in parallel and a run can be repeated against a long-lived server.
import { createHmac, randomBytes } from 'node:crypto'
import type { Scenario } from '../load/scenario-types.js'
import { type TemplateScope, TemplateError } from './templating.js'

export const ID_PREFIX = 'cf'

/** The test token of [AUTH-1]. */
export function testToken(secret: string, userId: string): string {
  const msg = `imwire-test.v1.${userId}`
  return `${msg}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(msg).digest('base64url')}`
}

export function newRunId(): string {
  return randomBytes(4).readUInt32BE(0).toString(36).padStart(7, '0').slice(-7)
}

export class CaseNames {
  private readonly msgIds = new Map<string, string>()
  constructor(
    readonly scenario: Scenario,
    readonly runId: string,
    readonly caseIndex: number,
    private readonly secret: string,
  ) {}

  userId(name: string): string {
    const actor = this.scenario.actors[name]
    const user = actor ? actor.user : name
    return `${ID_PREFIX}-${this.runId}-${this.caseIndex}-${user}`
  }

  deviceId(actor: string): string {
    const a = this.scenario.actors[actor]
    if (!a) throw new TemplateError(`unknown actor ${actor}`)
    return a.device
  }

  token(name: string): string {
    return testToken(this.secret, this.userId(name))
  }

  convId(name: string): string {
    return `${ID_PREFIX}-${this.runId}-${this.caseIndex}-${name}`
  }

  msgId(name: string): string {
    let v = this.msgIds.get(name)
    if (v === undefined) {
      v = randomBytes(16).toString('base64')
      this.msgIds.set(name, v)
    }
    return v
  }
}

/** Captures and variables shared by every step of a case. */
export class CaseState {
  readonly captures = new Map<string, unknown>()
  readonly vars = new Map<string, unknown>()
}

export class Scope implements TemplateScope {
  constructor(
    private readonly names: CaseNames,
    private readonly state: CaseState,
    private readonly loops: ReadonlyMap<string, number> = new Map(),
  ) {}

  withLoop(name: string, i: number): Scope {
    const loops = new Map(this.loops)
    loops.set(name, i)
    return new Scope(this.names, this.state, loops)
  }

  /** `m` + [`i`] -> `m.3` inside a loop where i = 3: one name per iteration. */
  private indexed(name: string, rest: string[]): string {
    return [name, ...rest.map((p) => (/^\d+$/.test(p) ? p : String(this.loopValue(p))))].join('.')
  }

  private loopValue(v: string): number {
    const i = this.loops.get(v)
    if (i === undefined) throw new TemplateError(`'${v}' is not a loop variable here`)
    return i
  }

  lookup(path: string[]): unknown {
    const [ns, name, ...rest] = path
    if (path.length === 1) {
      if (ns === 'run') return this.names.runId
      const i = this.loops.get(ns as string)
      if (i === undefined) throw new TemplateError(`\${${ns}} is not a loop variable here`)
      return i
    }
    const n = name as string
    switch (ns) {
      case 'user':
        return this.names.userId(n)
      case 'device':
        return this.names.deviceId(n)
      case 'token':
        return this.names.token(n)
      case 'conv':
        return this.names.convId(this.indexed(n, rest))
      case 'msgid':
        return this.names.msgId(this.indexed(n, rest))
      case 'var':
        if (!this.state.vars.has(n)) throw new TemplateError(`\${var.${n}} is not set`)
        return navigate(this.state.vars.get(n), rest, path)
      case 'cap':
        return this.capture([n, ...rest], path)
      default:
        throw new TemplateError(`unknown template namespace ${ns}`)
    }
  }

  /** Longest captured key that prefixes the path (`a1.welcome` + `limits.maxFrameBytes`). */
  private capture(parts: string[], full: string[]): unknown {
    for (let k = parts.length; k >= 1; k--) {
      const key = parts.slice(0, k).join('.')
      if (this.state.captures.has(key)) return navigate(this.state.captures.get(key), parts.slice(k), full)
    }
    throw new TemplateError(`\${${full.join('.')}}: nothing captured under that name yet`)
  }
}

export function navigate(v: unknown, rest: string[], full: string[]): unknown {
  let cur = v
  for (const p of rest) {
    if (cur === null || typeof cur !== 'object')
      throw new TemplateError(`\${${full.join('.')}}: no '${p}' in ${JSON.stringify(cur)}`)
    cur = Array.isArray(cur) && /^\d+$/.test(p) ? cur[Number(p)] : (cur as Record<string, unknown>)[p]
    if (cur === undefined) throw new TemplateError(`\${${full.join('.')}}: no '${p}'`)
  }
  return cur
}
