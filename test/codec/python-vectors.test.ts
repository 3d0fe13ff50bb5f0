// The codec vectors in a second language: conformance/python/run-codec-vectors.py,
// written from vectors/README.md with Debian's python3-protobuf, protobuf-compiler
// and python3-lz4 (.ci/run installs them). A machine without them fails here:
// a cross-language check that silently stops running is worse than none.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadCodecVectors, root } from './helpers.js'

const runner = join(root, 'conformance/python/run-codec-vectors.py')
// Debian's interpreter holds the Debian modules; `python3` on PATH may be another one (pyenv).
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

function run(...args: string[]) {
  const res = spawnSync(python, [runner, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
  return { status: res.status, out: `${res.stdout ?? ''}${res.stderr ?? ''}` }
}

t.test('the Python runner passes every codec vector it does not knowingly skip', async (t) => {
  const { status, out } = run()
  if (status !== 0) t.comment(out.slice(-2000))
  t.equal(status, 0, 'exits 0')
  const total = loadCodecVectors().length
  const summary = /# (\d+) codec vectors: (\d+) passed, (\d+) failed, (\d+) skipped knowingly/.exec(out)
  t.ok(summary, 'prints its summary line')
  t.equal(Number(summary?.[1]), total, 'runs every vector')
  t.equal(Number(summary?.[3]), 0, 'none failed')
  const skipped = [...out.matchAll(/^# knowingly skipped: (\S+) \(needs ([^;]+);/gm)].map((m) => m[1])
  const strict = loadCodecVectors()
    .filter((c) => c.needs?.includes('strict-wire'))
    .map((c) => c.id)
  t.same(skipped.sort(), strict.sort(), 'it skips exactly the strict-wire vectors, and lists them')
  // The mark is earned: a stock runtime (python-protobuf 4.21, C++ backend) accepts each of these bytes.
  const lenient = [
    ...out.matchAll(/^# knowingly skipped: (\S+) \(needs [^;]+; python-protobuf accepts these bytes\)$/gm),
  ]
  t.equal(lenient.length, strict.length, 'python-protobuf accepts every strict-wire vector')
  t.equal(Number(summary?.[2]) + skipped.length, total)
})

t.test('the Python runner fails on a corrupted vector', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'imwire-pyvec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const src = join(root, 'vectors/codec')
  for (const name of readdirSync(src)) if (name.endsWith('.json')) copyFileSync(join(src, name), join(dir, name))
  const edit = (name: string, f: (cases: Array<Record<string, unknown>>) => void) => {
    const doc = JSON.parse(readFileSync(join(dir, name), 'utf8'))
    f(doc.cases)
    writeFileSync(join(dir, name), JSON.stringify(doc))
  }
  // A decoded value, a close code and a transport loss, each changed once.
  edit('frames.json', (cases) => {
    const c = cases.find((x) => x.id === 'frame.ping.uint64-max') as { frames: Array<{ ping: { nonce: string } }> }
    c.frames[0]!.ping.nonce = '18446744073709551614'
  })
  edit('invalid.json', (cases) => {
    const wire = cases.find((x) => x.id === 'invalid.frame.wire-type-6') as { error: { closeCode: number } }
    wire.error.closeCode = 3505
    const cut = cases.find((x) => x.id === 'invalid.stream.truncated-body') as { error: Record<string, unknown> }
    cut.error = { code: 'MALFORMED_FRAME', closeCode: 3504 }
  })
  const { status, out } = run('--dir', dir)
  t.equal(status, 1, 'exit 1')
  const failed = [...out.matchAll(/^# failed: (\S+)$/gm)].map((m) => m[1])
  t.same(failed.sort(), ['frame.ping.uint64-max', 'invalid.frame.wire-type-6', 'invalid.stream.truncated-body'])
})
