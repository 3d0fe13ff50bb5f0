// The layer rules of docs/architecture.md, checked over the TypeScript
// sources: which folder may import which, and that no production module
// outside src/codec reads or writes varints or raw frame bytes itself.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** Production TypeScript files under a folder (tests and fixtures excluded). */
function sources(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name)
    if (statSync(join(root, rel)).isDirectory()) {
      if (name === 'test' || name === 'node_modules') continue
      out.push(...sources(rel))
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts')) out.push(rel)
  }
  return out
}

/** The layer a repository path belongs to: src/<folder>, or conformance. */
function layerOf(path: string): string {
  const parts = path.split('/')
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}` : 'src'
  return parts[0] as string
}

/** Relative imports (static, dynamic, re-exports) of a file, as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  const out: string[] = []
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g
  for (const m of text.matchAll(re)) out.push(relative(root, resolve(root, dirname(file), m[1] as string)))
  return out
}

/** What each layer may import (besides itself). [docs/architecture.md] */
const ALLOWED: Record<string, string[]> = {
  'src/gen': [],
  'src/codec': ['src/gen'],
  'src/session': ['src/codec', 'src/gen'],
  'src/transport': ['src/codec', 'src/session', 'src/gen'],
  'src/client': ['src/codec', 'src/transport', 'src/session', 'src/gen'],
  'src/server': ['src/codec', 'src/transport', 'src/session', 'src/gen', 'src/cli'],
  'src/cli': ['src/codec', 'src/transport', 'src/session', 'src/server', 'src/client', 'src/gen', 'src', 'conformance'],
  // src/index.ts: the package's public API, one named export at a time.
  src: ['src/codec', 'src/transport', 'src/session', 'src/client', 'src/server', 'src/gen'],
  conformance: ['src/codec', 'src/transport', 'src/gen', 'src/cli', 'src'],
}

/** Layer violations among the given files. */
function violations(files: string[]): string[] {
  const bad: string[] = []
  for (const file of files) {
    const from = layerOf(file)
    const allowed = ALLOWED[from]
    if (allowed === undefined) continue
    for (const target of importsOf(file)) {
      const to = layerOf(target)
      if (to === from || !(to in ALLOWED)) continue
      if (!allowed.includes(to)) bad.push(`${file} imports ${target} (${from} may not import ${to})`)
    }
  }
  return bad
}

// Byte-level varint and frame handling: the continuation bit, 7-bit groups,
// and protobuf-es encoding of a whole Frame. Only src/codec (and generated
// code) may do these.
const WIRE_PATTERNS: Array<[string, RegExp]> = [
  ['varint 7-bit group (& 0x7f)', /&\s*0x7f\b|0x7fn\b/],
  ['varint shift (>>> 7, >> 7n)', />>>=?\s*7\b|>>=?\s*7n\b/],
  ['varint base 128 (* 128, / 128)', /[*/]=?\s*128\b/],
  ['Frame encoded or decoded by protobuf-es directly', /\b(?:toBinary|fromBinary)\(\s*FrameSchema\b/],
]

/** Production files outside src/codec that handle wire bytes themselves. */
/** Files outside src/codec that match a wire pattern for another protocol's bytes, with why. */
const OTHER_WIRES: Record<string, string> = {
  'conformance/model/ws-client-bytes.ts':
    "RFC 6455 frame headers (the 7-bit payload length, the mask bit), read so the model can judge the runner's raw WebSocket bytes; no imwire varint or frame",
}

function wireHandlers(files: string[]): string[] {
  const bad: string[] = []
  for (const file of files) {
    if (file.startsWith('src/codec/') || file.startsWith('src/gen/') || OTHER_WIRES[file] !== undefined) continue
    const text = readFileSync(join(root, file), 'utf8')
    for (const [what, re] of WIRE_PATTERNS) {
      const lineNo = text.split('\n').findIndex((line) => re.test(line.replace(/\/\/.*$/, '')))
      if (lineNo >= 0) bad.push(`${file}:${lineNo + 1}: ${what}`)
    }
  }
  return bad
}

const production = [...sources('src'), ...sources('conformance')]

t.test('arrows point down: every import between layers is one the architecture allows', async (t) => {
  t.ok(production.length > 100, `${production.length} files scanned`)
  t.same(violations(production), [])
})

t.test('codec imports only generated code; generated code imports no hand code', async (t) => {
  const codec = production.filter((f) => f.startsWith('src/codec/'))
  for (const f of codec)
    for (const i of importsOf(f)) t.ok(i.startsWith('src/codec/') || i.startsWith('src/gen/'), `${f} -> ${i}`)
  const gen = sources('src/gen')
  for (const f of gen) for (const i of importsOf(f)) t.ok(i.startsWith('src/gen/'), `${f} -> ${i}`)
})

t.test('the conformance kit never imports the server or the session core', async (t) => {
  const kit = production.filter((f) => f.startsWith('conformance/'))
  const bad = kit.flatMap((f) =>
    importsOf(f)
      .filter((i) => i.startsWith('src/server/') || i.startsWith('src/session/'))
      .map((i) => `${f} -> ${i}`),
  )
  t.same(bad, [])
})

t.test('no production module outside src/codec reads or writes varints or raw frame bytes', async (t) => {
  t.same(wireHandlers(production), [])
})
