// Loads vectors/session/*.json: JSON Schema validation (ajv), then checks the
// schema cannot express: unique ids, requirement ids that exist in spec.md,
// frames and matchers against the proto descriptors, template references,
// connections used before they are opened. Any problem is a load error; the
// runner never skips a scenario silently because it could not understand it.
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { compileSchemaFile, newAjv } from './json-schema.js'
import { HelloSchema, WelcomeSchema } from '../../src/gen/es/imwire/v1/handshake_pb.js'
import { templatesIn } from '../engine/templating.js'
import { checkFrameShape, checkMessageShape } from './frame-shape.js'
import {
  type Actor,
  DEFAULT_SCENARIO_TIMEOUT_MS,
  type Feature,
  type JsonObject,
  type Need,
  type Scenario,
  STEP_VERBS,
  type Step,
  verbOf,
} from './scenario-types.js'
import type { SpecIndex } from './spec-index.js'

export interface LoadError {
  file: string
  /** JSON pointer-ish location inside the file. */
  where: string
  message: string
}

export interface LoadResult {
  scenarios: Scenario[]
  errors: LoadError[]
  files: string[]
}

let cachedValidator: { schemaPath: string; validate: ValidateFunction; ajv: Ajv2020 } | null = null

function validatorFor(schemaPath: string): { validate: ValidateFunction; ajv: Ajv2020 } {
  if (cachedValidator?.schemaPath === schemaPath) return cachedValidator
  const ajv = newAjv()
  const validate = compileSchemaFile(schemaPath, ajv)
  cachedValidator = { schemaPath, validate, ajv }
  return cachedValidator
}

export function loadScenarios(opts: { dir: string; schemaPath: string; spec: SpecIndex }): LoadResult {
  let files: string[]
  try {
    files = readdirSync(opts.dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => join(opts.dir, f))
  } catch (err) {
    return { scenarios: [], errors: [{ file: opts.dir, where: '', message: (err as Error).message }], files: [] }
  }
  const errors: LoadError[] = []
  const scenarios: Scenario[] = []
  const seen = new Map<string, string>()
  const { validate, ajv } = validatorFor(opts.schemaPath)
  for (const file of files) {
    const name = basename(file)
    let doc: unknown
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      errors.push({ file: name, where: '', message: `not JSON: ${(err as Error).message}` })
      continue
    }
    if (!validate(doc)) {
      for (const e of explainSchemaErrors(doc, validate.errors ?? [], ajv)) errors.push({ file: name, ...e })
      continue
    }
    const raw = (doc as { scenarios: JsonObject[] }).scenarios
    raw.forEach((s, i) => {
      const where = `/scenarios/${i}`
      const scenario = normalize(s, name)
      const prior = seen.get(scenario.id)
      if (prior !== undefined)
        errors.push({ file: name, where, message: `duplicate id ${scenario.id} (also in ${prior})` })
      seen.set(scenario.id, name)
      for (const r of scenario.requirements) {
        if (!opts.spec.requirements.has(r))
          errors.push({
            file: name,
            where: `${where}/requirements`,
            message: `${r} is not a requirement id in spec.md`,
          })
      }
      for (const message of checkScenario(scenario))
        errors.push({ file: name, where: `${where} (${scenario.id})`, message })
      scenarios.push(scenario)
    })
  }
  return { scenarios, errors, files }
}

function normalize(s: JsonObject, file: string): Scenario {
  const actors: Record<string, Actor> = {}
  for (const [name, a] of Object.entries((s.actors ?? {}) as Record<string, { user?: string; device?: string }>)) {
    actors[name] = { user: a.user ?? name, device: a.device ?? `${name}-dev` }
  }
  return {
    id: s.id as string,
    title: s.title as string,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    requirements: s.requirements as string[],
    level: s.level as 'MUST' | 'SHOULD',
    features: (s.features ?? []) as Feature[],
    needs: (s.needs ?? []) as Need[],
    timeoutMs: (s.timeoutMs as number | undefined) ?? DEFAULT_SCENARIO_TIMEOUT_MS,
    actors,
    steps: s.steps as Step[],
    file,
  }
}

/**
 * ajv reports every branch of the step oneOf; instead, each failing step is
 * validated against the schema of its own verb (nested steps replaced by a
 * placeholder and explained on their own), which gives one clear message.
 */
function explainSchemaErrors(
  doc: unknown,
  errs: ErrorObject[],
  ajv: Ajv2020,
): Array<{ where: string; message: string }> {
  const out: Array<{ where: string; message: string }> = []
  const steps = new Set<string>()
  for (const e of errs) {
    const m = /^(\/scenarios\/\d+\/steps\/\d+)(?:$|\/)/.exec(e.instancePath)
    if (m) steps.add(m[1] as string)
    else out.push({ where: e.instancePath || '/', message: formatAjv(e) })
  }
  for (const at of steps) {
    const before = out.length
    explainStep(pointer(doc, at), at, ajv, out)
    if (out.length === before) out.push({ where: at, message: 'invalid step' })
  }
  return out
}

const PLACEHOLDER = { sleep: 0 }

function explainStep(step: unknown, at: string, ajv: Ajv2020, out: Array<{ where: string; message: string }>): void {
  if (step === null || typeof step !== 'object' || Array.isArray(step)) {
    out.push({ where: at, message: 'a step is an object' })
    return
  }
  const verbs = STEP_VERBS.filter((v) => v in step)
  if (verbs.length !== 1) {
    out.push({
      where: at,
      message:
        verbs.length === 0
          ? `step has no known verb (one of ${STEP_VERBS.join(', ')})`
          : `step has several verbs: ${verbs.join(', ')}`,
    })
    return
  }
  const s = step as Record<string, unknown>
  const shallow: Record<string, unknown> = { ...s }
  if (Array.isArray(s.steps)) shallow.steps = [PLACEHOLDER]
  if (Array.isArray(s.parallel)) shallow.parallel = s.parallel.map(() => [PLACEHOLDER])
  const sub = ajv.getSchema(`https://imwire.dev/vectors/schema/session.schema.json#/$defs/${verbs[0]}`)
  if (sub && !sub(shallow))
    for (const se of sub.errors ?? []) out.push({ where: `${at}${se.instancePath}`, message: formatAjv(se) })
  if (Array.isArray(s.steps)) for (const [i, x] of s.steps.entries()) explainStep(x, `${at}/steps/${i}`, ajv, out)
  if (Array.isArray(s.parallel)) {
    s.parallel.forEach((b, j) => {
      if (Array.isArray(b)) for (const [i, x] of b.entries()) explainStep(x, `${at}/parallel/${j}/${i}`, ajv, out)
    })
  }
}

function formatAjv(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties')
    return `unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`
  if (e.keyword === 'enum')
    return `${e.message}: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`
  return e.message ?? e.keyword
}

function pointer(doc: unknown, path: string): unknown {
  let cur = doc
  for (const part of path.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[decodeURIComponent(part.replace(/~1/g, '/').replace(/~0/g, '~'))]
  }
  return cur
}

const NAMESPACES = new Set(['user', 'device', 'token', 'conv', 'msgid', 'cap', 'var', 'run'])

/** Semantic checks the schema cannot express. */
export function checkScenario(s: Scenario): string[] {
  const errors: string[] = []
  const actorNames = new Set(Object.keys(s.actors))
  const userNames = new Set(Object.values(s.actors).map((a) => a.user))
  const captureNames = new Set<string>()
  const varNames = new Set<string>()
  const conns = new Set<string>()
  const needs = new Set(s.needs)
  if (needs.has('tcp-only') && needs.has('ws-only')) errors.push('needs both tcp-only and ws-only')
  // First pass: names defined anywhere (captures may be defined in a parallel branch).
  walkSteps(s.steps, '', (step) => {
    for (const c of Object.keys((step.capture as object | undefined) ?? {})) captureNames.add(c)
    for (const k of Object.keys((step.set as object | undefined) ?? {})) varNames.add(k)
    collectCaptureOps(step, captureNames)
    if (typeof step.connect === 'string') conns.add((step.conn as string | undefined) ?? step.connect)
  })
  const opened = new Set<string>()
  walkSteps(s.steps, '', (step, where, loopVars) => {
    const verb = verbOf(step)
    const at = (m: string) => errors.push(`${where}: ${m}`)
    if (verb === 'connect') {
      if (!actorNames.has(step.connect as string)) at(`unknown actor '${String(step.connect)}'`)
      if (step.transport === 'other' && !needs.has('two-transports'))
        at('"transport": "other" needs "needs": ["two-transports"]')
      if (step.transport === 'other' && (step.subprotocols !== undefined || step.refused !== undefined))
        at('subprotocols and refused apply to the case\'s own (WebSocket) transport, not "transport": "other"')
      if ((step.subprotocols !== undefined || step.refused !== undefined) && !needs.has('ws-only'))
        at('subprotocols and refused are WebSocket options: the scenario needs "needs": ["ws-only"]')
      if (step.stallUpgrade === true) {
        if (!needs.has('ws-only')) at('stallUpgrade is a WebSocket option: the scenario needs "needs": ["ws-only"]')
        // [HS-17] the connection never becomes a WebSocket: nothing can follow on it
        for (const k of ['hello', 'handshake', 'welcome', 'skipReplay', 'autoPing', 'raw', 'ignore', 'subprotocols', 'refused', 'transport'])
          if (step[k] !== undefined) at(`'${k}' makes no sense on a connection whose upgrade request never completes`)
      }
      if (step.refused === true) {
        // [FRM-12] a refused connection is never opened: nothing can follow on it
        for (const k of ['hello', 'handshake', 'welcome', 'skipReplay', 'autoPing', 'raw', 'ignore', 'withinMs'])
          if (step[k] !== undefined) at(`'${k}' makes no sense on a connection that must be refused`)
      } else if (step.stallUpgrade !== true) opened.add((step.conn as string | undefined) ?? (step.connect as string))
      if (step.hello !== undefined)
        for (const e of checkMessageShape(step.hello, HelloSchema, 'frame', true)) at(`hello.${e}`)
      if (step.welcome !== undefined)
        for (const e of checkMessageShape(step.welcome, WelcomeSchema, 'matcher')) at(`welcome.${e}`)
    } else {
      const conn = connOf(step, verb)
      if (conn !== undefined && !opened.has(conn)) at(`connection '${conn}' is used before any connect step opens it`)
    }
    if (verb === 'sendText' && !needs.has('ws-only')) at('sendText needs "needs": ["ws-only"]')
    // Protocol bounds are checked unscaled; a window that cannot be met is a vector bug.
    if (typeof step.notBeforeMs === 'number' && typeof step.beforeMs === 'number' && step.notBeforeMs >= step.beforeMs)
      at(`notBeforeMs ${step.notBeforeMs} is not below beforeMs ${step.beforeMs}`)
    if (verb === 'sendRaw' && step.wsBytesHex !== undefined && !needs.has('ws-only'))
      at('sendRaw wsBytesHex needs "needs": ["ws-only"]')
    if (verb === 'restartServer' && !needs.has('restart')) at('restartServer needs "needs": ["restart"]')
    for (const f of framesOf(step, verb)) for (const e of checkFrameShape(f.value, f.mode)) at(`${f.label}: ${e}`)
    // template references
    forEachString(step, (str) => {
      let exprs: ReturnType<typeof templatesIn>
      try {
        exprs = templatesIn(str)
      } catch (err) {
        at((err as Error).message)
        return
      }
      for (const x of exprs) {
        const [ns, name] = x.path
        if (x.path.length === 1) {
          if (ns !== 'run' && !loopVars.includes(ns as string))
            at(`\${${x.source}}: '${ns}' is not a loop variable here`)
          continue
        }
        if (!NAMESPACES.has(ns as string)) at(`\${${x.source}}: unknown namespace '${ns}'`)
        else if ((ns === 'user' || ns === 'token') && !userNames.has(name as string) && !actorNames.has(name as string))
          at(`\${${x.source}}: '${name}' is neither an actor nor an actor's user`)
        else if (ns === 'device' && !actorNames.has(name as string)) at(`\${${x.source}}: '${name}' is not an actor`)
        else if (ns === 'cap' && !captureNames.has(name as string) && !conns.has(name as string))
          at(`\${${x.source}}: nothing captures '${name}' and no connection has that name`)
        else if (ns === 'var' && !varNames.has(name as string)) at(`\${${x.source}}: no set step defines '${name}'`)
        if ((ns === 'msgid' || ns === 'conv') && x.path.length > 2) {
          for (const seg of x.path.slice(2))
            if (!/^\d+$/.test(seg) && !loopVars.includes(seg))
              at(`\${${x.source}}: '${seg}' is neither a number nor a loop variable here`)
        }
        if ((ns === 'user' || ns === 'token' || ns === 'device') && x.path.length > 2)
          at(`\${${x.source}}: ${ns} takes one name`)
      }
    })
  })
  return errors
}

function connOf(step: Step, verb: string): string | undefined {
  if (verb === 'assert') {
    const dense = (step.assert as JsonObject).dense as JsonObject | undefined
    return dense?.conn as string | undefined
  }
  if (verb === 'repeat' || verb === 'parallel' || verb === 'sleep' || verb === 'set' || verb === 'restartServer')
    return undefined
  const v = step[verb]
  return typeof v === 'string' ? v : undefined
}

function framesOf(step: Step, verb: string): Array<{ value: unknown; mode: 'frame' | 'matcher'; label: string }> {
  const out: Array<{ value: unknown; mode: 'frame' | 'matcher'; label: string }> = []
  if (verb === 'expect') out.push({ value: step.frame, mode: 'matcher', label: 'frame' })
  else if (step.frame !== undefined) out.push({ value: step.frame, mode: 'frame', label: 'frame' })
  if (Array.isArray(step.ignore))
    for (const [i, f] of step.ignore.entries()) out.push({ value: f, mode: 'matcher', label: `ignore[${i}]` })
  if (Array.isArray(step.frames)) {
    for (const [i, f] of step.frames.entries())
      out.push({ value: f, mode: verb === 'expectSet' ? 'matcher' : 'frame', label: `frames[${i}]` })
  }
  return out
}

type Visit = (step: Step, where: string, loopVars: string[]) => void

function walkSteps(steps: Step[], prefix: string, visit: Visit, loopVars: string[] = []): void {
  steps.forEach((step, i) => {
    const where = `${prefix}steps[${i}]`
    visit(step, where, loopVars)
    if (Array.isArray(step.steps))
      walkSteps(step.steps as Step[], `${where}.`, visit, [...loopVars, (step.as as string | undefined) ?? 'i'])
    if (Array.isArray(step.parallel))
      for (const [j, b] of (step.parallel as Step[][]).entries())
        walkSteps(b, `${where}.parallel[${j}].`, visit, loopVars)
  })
}

function collectCaptureOps(v: unknown, into: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) collectCaptureOps(x, into)
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$capture' && typeof x === 'string') into.add(x)
      else if (k !== 'steps' && k !== 'parallel') collectCaptureOps(x, into)
    }
  }
}

/** Every string in a step, nested steps excluded (they are visited on their own). */
function forEachString(v: unknown, fn: (s: string) => void, top = true): void {
  if (typeof v === 'string') fn(v)
  else if (Array.isArray(v)) for (const x of v) forEachString(x, fn, false)
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v))
      if (!(top && (k === 'steps' || k === 'parallel'))) forEachString(x, fn, false)
  }
}
