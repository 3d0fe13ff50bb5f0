// `imwire decode` and `imwire vectors lint`, called in-process through their
// main() with captured output.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { main as decode } from '../../src/cli/decode.js'
import { main as vectors } from '../../src/cli/vectors.js'
import { loadCodecVectors, root } from './helpers.js'

function capture(input?: string | Uint8Array) {
  const io = {
    out: '',
    err: '',
    stdout: {
      write: (s: string) => {
        io.out += s
        return true
      },
    },
    stderr: {
      write: (s: string) => {
        io.err += s
        return true
      },
    },
    stdin: (async function* () {
      if (input !== undefined) yield typeof input === 'string' ? Buffer.from(input) : input
    })(),
  }
  return io
}

t.test('decode prints each frame of a hex stream as protobuf JSON', async (t) => {
  const io = capture('04 42 02 08 01\n0x04:0x4a:0x02:0x08:0x01\n')
  t.equal(await decode([], io), 0)
  t.match(io.out, /frame 1 at byte 0, 4 bytes: ping/)
  t.match(io.out, /frame 2 at byte 5, 4 bytes: pong/)
  t.match(io.out, /"nonce": "1"/)
})

t.test('decode --json gives offsets, sizes and the frames inside a batch', async (t) => {
  // The spec's example batch: Ping and Pong, codec NONE, on TCP.
  const io = capture('14 3a 12 08 01 10 02 18 0a 22 0a 04 42 02 08 01 04 4a 02 08 01')
  t.equal(await decode(['--json', '--form', 'stream'], io), 0)
  const out = JSON.parse(io.out) as Array<{
    offset: number
    length: number
    frame: { batch: unknown }
    inner: unknown[]
  }>
  t.equal(out.length, 1)
  t.same(out[0]?.inner, [{ ping: { nonce: '1' } }, { pong: { nonce: '1' } }])
  t.equal(out[0]?.length, 20)
})

t.test('decode shows codec and sizes of a batch in text form', async (t) => {
  const io = capture('3a 12 08 01 10 02 18 0a 22 0a 04 42 02 08 01 04 4a 02 08 01')
  t.equal(await decode(['--form', 'frame'], io), 0)
  t.match(io.out, /batch codec NONE, count 2, payload 10 bytes, uncompressed 10 bytes/)
  t.match(io.out, /frame 1\.2 \(in batch\): pong/)
})

t.test('decode --form auto falls back to a single frame', async (t) => {
  // As a stream, 0x1a announces 26 bytes that never come.
  const io = capture('1a 04 12 02 61 62')
  t.equal(await decode([], io), 0)
  t.match(io.out, /as one frame/)
  t.match(io.out, /"conversationId": "ab"/)
})

t.test('decode reports the error code, close code and byte offset, after the good frames', async (t) => {
  const io = capture('04 42 02 08 01 04 1a 02 12 c3')
  t.equal(await decode(['--form', 'stream'], io), 1)
  t.match(io.out, /ping/)
  // The frame starts at byte 6; the cut field (tag 12, string length c3 cut) starts at byte 8.
  t.match(io.err, /error: MALFORMED_FRAME at byte 8 \(close 3504 MALFORMED_FRAME\)/)
  const big = capture('ff ff 7f')
  t.equal(await decode(['--form', 'stream', '--max-frame-bytes', '1000'], big), 1)
  t.match(big.err, /FRAME_TOO_LARGE at byte 0 \(close 3503/)
  const lz4 = capture('3a 0a 08 02 10 01 18 01 22 02 10 42')
  t.equal(await decode(['--form', 'frame', '--no-lz4'], lz4), 1)
  t.match(lz4.err, /BATCH_CODEC_NOT_ENABLED in the batch frame at byte 0 \(close 3505/)
})

t.test('decode refuses text that is not valid hex instead of reading it as binary', async (t) => {
  // Five hex digits: read as binary it used to decode as a TCP stream cut inside a frame.
  const odd = capture('04 42 02 08 0')
  t.equal(await decode([], odd), 2, 'an odd number of hex digits is a usage error')
  t.match(odd.err, /odd number of hex digits \(9\)/)
  t.match(odd.err, /--binary/)
  t.match(odd.err, /usage: imwire decode/)
  t.equal(odd.out, '', 'nothing decoded')
  const letter = capture('04 42 02 08 0g')
  t.equal(await decode(['--form', 'frame'], letter), 2)
  t.match(letter.err, /"g" is not a hex digit/)
  const forced = capture('04 42 02 08 0')
  t.equal(await decode(['--hex'], forced), 2)
  t.match(forced.err, /--hex input is not hex: it has an odd number/)
  // Printable text decoded on purpose: "B\x02\x08\x01" is not text, but --binary takes any bytes.
  const asBinary = capture('abc')
  t.equal(await decode(['--binary', '--form', 'frame'], asBinary), 1, 'decoded, and refused by the codec')
  t.match(asBinary.err, /MALFORMED_FRAME/)
})

t.test('decode says when a receiver closes on a frame that decodes', async (t) => {
  // [FRM-7] an empty frame and one whose body uses field 14, then a valid Ping.
  const io = capture('00 02 72 00 04 42 02 08 01')
  t.equal(await decode(['--form', 'stream'], io), 1, 'exit 1: a receiver would close')
  t.match(
    io.out,
    /# frame 1 at byte 0, 0 bytes: \(no body\)\n\{\}\n# a receiver closes with 3511 CLOSE_CODE_UNSUPPORTED_FRAME: no body v1 knows \(an empty frame, or only unknown fields\) \[FRM-7\]/,
  )
  t.match(io.err, /receiver closes: frame 2 at byte 1: a receiver closes with 3511/)
  t.notMatch(io.err, /frame 3/, 'the Ping is fine')
  // [BAT-12] a Hello inside a batch: 3510, said of the inner frame.
  const hello = capture('3a 0d 08 01 10 01 18 05 22 05 04 0a 02 08 01')
  t.equal(await decode(['--form', 'frame', '--json'], hello), 1)
  t.match(
    hello.err,
    /receiver closes: frame 1.1 \(in batch\): a receiver closes with 3510 CLOSE_CODE_UNEXPECTED_FRAME: a Hello inside a Batch \[BAT-12\]/,
  )
  const out = JSON.parse(hello.out) as Array<{ innerReceiverCloses?: Array<{ index: number; code: number }> }>
  t.same(
    out[0]?.innerReceiverCloses?.map((c) => [c.index, c.code]),
    [[0, 3510]],
  )
  const plain = capture('04 42 02 08 01')
  t.equal(await decode([], plain), 0, 'a frame a receiver accepts: exit 0')
  t.equal(plain.err, '')
})

t.test('decode calls a stream cut inside a frame a transport loss, with no close code', async (t) => {
  const io = capture('04 42 02 08 01 04 42')
  t.equal(await decode(['--form', 'stream'], io), 1)
  t.match(io.err, /TRUNCATED_FRAME at byte 5 \(a transport loss, no close code \[FRM-8\]\)/)
})

t.test('decode reads binary from a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'imwire-decode-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'frames.bin')
  writeFileSync(file, Uint8Array.of(0x04, 0x42, 0x02, 0x08, 0x01))
  const io = capture()
  t.equal(await decode([file], io), 0)
  t.match(io.out, /ping/)
  const hexIo = capture()
  t.equal(await decode(['--hex', file], hexIo), 2, '--hex on binary input is a usage error')
})

t.test('decode reads raw binary from stdin, and an LZ4 batch frame whose inner frames it expands', async (t) => {
  const io = capture(Uint8Array.of(0x04, 0x42, 0x02, 0x08, 0x01, 0x04, 0x4a, 0x02, 0x08, 0x01))
  t.equal(await decode([], io), 0)
  t.match(io.out, /10 bytes decoded as a TCP stream/)
  t.match(io.out, /frame 2 at byte 5, 4 bytes: pong/)
  const v = loadCodecVectors().find((c) => c.id === 'batch.lz4.three-frames')
  if (v === undefined) throw new Error('vector batch.lz4.three-frames missing')
  const lz4 = capture(Buffer.from(v.hex, 'hex'))
  t.equal(await decode(['--binary', '--form', v.form, '--json'], lz4), 0, lz4.err)
  const out = JSON.parse(lz4.out) as Array<{ inner?: unknown[] }>
  t.same(
    out.flatMap((d, i) => d.inner ?? [v.frames?.[i]]),
    v.expandedFrames,
    'the frames the vector says the batch carries',
  )
})

t.test('the installed bin runs decode on stdin (npx imwire decode)', async (t) => {
  const bin = join(root, 'dist/src/cli/main.js')
  const r = spawnSync(process.execPath, [bin, 'decode', '--form', 'frame'], {
    input: '42 02 08 01\n',
    encoding: 'utf8',
  })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /one frame \(WebSocket form\)/)
  t.match(r.stdout, /"nonce": "1"/)
  const bad = spawnSync(process.execPath, [bin, 'decode', '--form', 'frame'], { input: '42 02 08', encoding: 'utf8' })
  t.equal(bad.status, 1, 'exit 1 on a decode error')
  t.match(bad.stderr, /MALFORMED_FRAME at byte 0 \(close 3504/)
})

t.test('decode usage errors exit 2', async (t) => {
  for (const argv of [['--form', 'udp'], ['--max-frame-bytes', '0'], ['--bogus'], ['a', 'b'], ['/nonexistent/file']]) {
    const io = capture('')
    t.equal(await decode(argv, io), 2, argv.join(' '))
  }
  const help = capture()
  t.equal(await decode(['--help'], help), 0)
  t.match(help.out, /usage: imwire decode/)
})

t.test('vectors lint passes on the committed vectors', async (t) => {
  const io = capture()
  t.equal(await vectors(['lint'], io), 0, io.out)
  t.match(io.out, /0 problems/)
})

t.test('vectors lint finds schema errors, duplicate ids, unknown requirements and bad frames', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'imwire-vectors-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'schema'))
  mkdirSync(join(dir, 'codec'))
  copyFileSync(join(root, 'vectors/schema/codec.schema.json'), join(dir, 'schema/codec.schema.json'))
  const good = {
    id: 'frame.ping.one',
    description: 'd',
    requirements: ['FRM-2'],
    level: 'MUST',
    form: 'frame',
    hex: '42020801',
    frames: [{ ping: { nonce: '1' } }],
  }
  const doc = (cases: unknown[]) => JSON.stringify({ kind: 'codec', version: 1, cases })
  writeFileSync(join(dir, 'codec/a.json'), doc([good]))
  writeFileSync(
    join(dir, 'codec/b.json'),
    doc([
      good,
      { ...good, id: 'frame.x.unknown-req', requirements: ['ZZZ-1'] },
      { ...good, id: 'frame.x.bad-field', frames: [{ ping: { nonse: '1' } }] },
      { ...good, id: 'frame.x.batch', frames: [{ batch: { codec: 'BATCH_CODEC_NONE', count: 1 } }] },
      { ...good, id: 'frame.x.uint64-as-number', frames: [{ ping: { nonce: 1 } }] },
    ]),
  )
  writeFileSync(join(dir, 'codec/c.json'), doc([{ ...good, id: 'Bad Id', level: 'MAY' }]))
  writeFileSync(join(dir, 'other.json'), JSON.stringify({ kind: 'future', version: 1 }))
  const io = capture()
  t.equal(await vectors(['lint', '--dir', dir, '--spec', join(root, 'spec.md')], io), 1)
  t.match(io.out, /duplicate id 'frame\.ping\.one'/)
  t.match(io.out, /requirement ZZZ-1 is not defined/)
  t.match(io.out, /frames\/0: not a Frame/)
  t.match(io.out, /needs expandedFrames/)
  t.match(io.out, /cases\/4\/frames\/0: not canonical proto3 JSON: \/ping\/nonce: a 64-bit integer must be a string/)
  t.match(io.out, /c\.json \/cases\/0\/id/)
  t.match(io.err, /no schema for kind 'future'/)
  t.notMatch(io.out, /^codec\/a\.json/m, 'the good file has no problem')
})

t.test('vectors lint usage errors exit 2', async (t) => {
  t.equal(await vectors([], capture()), 2)
  t.equal(await vectors(['check'], capture()), 2)
  t.equal(await vectors(['lint', '--dir', '/nonexistent'], capture()), 2)
  t.equal(await vectors(['lint', '--bogus'], capture()), 2)
  t.ok(readFileSync(join(root, 'vectors/schema/codec.schema.json'), 'utf8').includes('"additionalProperties": false'))
})
