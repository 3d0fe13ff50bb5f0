// `imwire vectors lint`: checks every vectors/**/*.json file against the JSON
// Schema named by its `kind` (vectors/schema/<kind>.schema.json), that case
// ids are unique across all files, and that every requirement id a case cites
// exists in spec.md. Codec files get three more checks the schema cannot make:
// every frame parses against the proto descriptors, is in canonical proto3
// JSON (./canonical-json.ts), and `expandedFrames` is present exactly when a
// frame is a Batch.
// Exit codes: 0 clean, 1 problems found, 2 usage error.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { fromJson, type JsonValue } from '@bufbuild/protobuf'
import type { ValidateFunction } from 'ajv/dist/2020.js'
import { compileSchemaFile } from '../../conformance/load/json-schema.js'
import { loadSpecIndex } from '../../conformance/load/spec-index.js'
import { FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { packageRoot } from '../package-root.js'
import { canonicalJsonProblems } from './canonical-json.js'

export interface CliIo {
  stdout: { write(s: string): boolean }
  stderr: { write(s: string): boolean }
}

const USAGE = `usage: imwire vectors lint [--dir DIR] [--spec FILE]

Checks every vectors/**/*.json file: its JSON Schema (vectors/schema/<kind>.schema.json),
ids unique across files, requirement ids defined in spec.md, and for codec vectors that
frames parse against the proto descriptors and are in canonical proto3 JSON.

  --dir DIR    vectors directory (default: the package's vectors/)
  --spec FILE  spec with the requirement ids (default: the package's spec.md)

Exit codes: 0 clean, 1 problems found, 2 usage error.
`

function listJson(dir: string, skip: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (p === skip) continue
    if (statSync(p).isDirectory()) out.push(...listJson(p, skip))
    else if (name.endsWith('.json')) out.push(p)
  }
  return out
}

type Problem = { file: string; where: string; message: string }

interface Item {
  id?: unknown
  requirements?: unknown
  frames?: unknown
  expandedFrames?: unknown
}

/** Codec-only checks: frames against the descriptors, expandedFrames iff a batch. */
function checkCodecCase(c: Item, where: string, add: (where: string, message: string) => void): void {
  let hasBatch = false
  const check = (list: unknown, key: string) => {
    if (!Array.isArray(list)) return
    list.forEach((f, i) => {
      try {
        const frame = fromJson(FrameSchema, f as JsonValue)
        if (key === 'frames' && frame.body.case === 'batch') hasBatch = true
        // Runners compare JSON values, so frames must be in the one canonical form (vectors/README.md).
        for (const p of canonicalJsonProblems(FrameSchema, f)) add(`${where}/${key}/${i}`, `not canonical proto3 JSON: ${p}`)
      } catch (err) {
        add(`${where}/${key}/${i}`, `not a Frame: ${(err as Error).message}`)
      }
    })
  }
  check(c.frames, 'frames')
  check(c.expandedFrames, 'expandedFrames')
  if (c.frames !== undefined && hasBatch !== (c.expandedFrames !== undefined)) {
    add(where, hasBatch ? 'a Batch frame needs expandedFrames' : 'expandedFrames without a Batch frame')
  }
}

export function lintVectors(
  dir: string,
  specPath: string,
): { problems: Problem[]; warnings: string[]; files: number; items: number } {
  const problems: Problem[] = []
  const warnings: string[] = []
  // The requirement ids spec.md defines, read the way the conformance kit reads them.
  const known = new Set(loadSpecIndex(specPath).requirements.keys())
  const schemaDir = join(dir, 'schema')
  const validators = new Map<string, ValidateFunction | null>()
  const ids = new Map<string, string>()
  let items = 0
  const files = listJson(dir, schemaDir)
  for (const path of files) {
    const file = relative(dir, path)
    const add = (where: string, message: string) => problems.push({ file, where, message })
    let doc: unknown
    try {
      doc = JSON.parse(readFileSync(path, 'utf8'))
    } catch (err) {
      add('', `not JSON: ${(err as Error).message}`)
      continue
    }
    const kind = (doc as { kind?: unknown })?.kind
    if (typeof kind !== 'string' || !/^[a-z][a-z0-9-]*$/.test(kind)) {
      add('/kind', 'missing or invalid kind')
      continue
    }
    if (!validators.has(kind)) {
      const schemaPath = join(schemaDir, `${kind}.schema.json`)
      if (!existsSync(schemaPath)) validators.set(kind, null)
      else {
        validators.set(kind, compileSchemaFile(schemaPath))
      }
    }
    const validate = validators.get(kind)
    if (validate === null || validate === undefined) {
      warnings.push(`${file}: no schema for kind '${kind}' (vectors/schema/${kind}.schema.json), skipped`)
      continue
    }
    if (!validate(doc)) {
      for (const e of validate.errors ?? [])
        add(e.instancePath, `${e.message ?? 'invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
      continue
    }
    const listKey = Array.isArray((doc as { cases?: unknown }).cases) ? 'cases' : 'scenarios'
    const list = (doc as Record<string, unknown>)[listKey]
    if (!Array.isArray(list)) continue
    list.forEach((c: Item, i) => {
      const where = `/${listKey}/${i}`
      items++
      if (typeof c.id === 'string') {
        const prior = ids.get(c.id)
        if (prior !== undefined) add(`${where}/id`, `duplicate id '${c.id}' (also in ${prior})`)
        else ids.set(c.id, file)
      }
      if (Array.isArray(c.requirements)) {
        for (const r of c.requirements) {
          if (typeof r === 'string' && !known.has(r))
            add(`${where}/requirements`, `requirement ${r} is not defined in spec.md`)
        }
      }
      if (kind === 'codec') checkCodecCase(c, where, add)
    })
  }
  return { problems, warnings, files: files.length, items }
}

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(USAGE)
    return 0
  }
  if (command !== 'lint') {
    io.stderr.write(command === undefined ? USAGE : `imwire vectors: unknown command '${command}'\n${USAGE}`)
    return 2
  }
  let dir: string
  let spec: string
  try {
    const { values } = parseArgs({
      args: rest,
      options: { dir: { type: 'string' }, spec: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    })
    if (values.help) {
      io.stdout.write(USAGE)
      return 0
    }
    const root = packageRoot()
    dir = values.dir ?? join(root, 'vectors')
    spec = values.spec ?? join(root, 'spec.md')
  } catch (err) {
    // node:util parseArgs refuses unknown options, positionals and options without their value.
    io.stderr.write(`imwire vectors lint: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (!existsSync(dir) || !existsSync(spec)) {
    io.stderr.write(`imwire vectors lint: ${existsSync(dir) ? spec : dir} not found\n`)
    return 2
  }
  const res = lintVectors(dir, spec)
  for (const w of res.warnings) io.stderr.write(`warning: ${w}\n`)
  for (const p of res.problems) io.stdout.write(`${p.file}${p.where ? ` ${p.where}` : ''}: ${p.message}\n`)
  io.stdout.write(`${res.files} files, ${res.items} vectors, ${res.problems.length} problems\n`)
  return res.problems.length === 0 ? 0 : 1
}
