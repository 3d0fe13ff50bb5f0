// `npm run bench:codec`: the codec against its peers, one table, one run.
//
//   frames  encode and decode of Send, SendAck, Deliver, DeliverAck, Ping, Pong frames:
//           imwire's codec (hand-written hot path), protobuf-es generic
//           (toBinary/fromBinary), ts-proto, protobufjs (the .proto files
//           loaded at run time with protobuf.load) and, as a yardstick,
//           JSON.stringify/JSON.parse of the same frame in protobuf JSON form.
//   lz4     a batch payload of 64 and 512 realistic chat Delivers: lz4js's
//           compressor made standard (compressLz4Block) + our bounded decoder,
//           against lz4-napi (native lz4_flex); MB/s of uncompressed bytes.
//   stream  one 1 MiB frame in the TCP form fed to the codec's StreamDecoder
//           whole, in 512-byte and in 64-byte chunks (how a socket delivers a
//           large frame from a slow or hostile peer): CPU ms per frame. The
//           three must stay within the same order: buffering is linear.
//
// Run with tsx (transpile only), like the other benches:
//   node --import tsx bench/codec.ts [--quick] [--stream]
// (--stream: only the stream rows).
// Each contender warms up, then runs 7 slices of 100 ms interleaved with its
// peers (--quick: 3 of 60 ms); the table shows the median slice, as operations
// per second of CPU time (robust to other load on a shared machine).
import { create, fromBinary, toBinary, toJson } from '@bufbuild/protobuf'
import lz4napi from 'lz4-napi'
import protobuf from 'protobufjs'
import { fileURLToPath } from 'node:url'
import {
  DEFAULT_MAX_FRAME_BYTES,
  StreamDecoder,
  compressLz4Block,
  decodeFrame,
  decodeLz4Block,
  encodeBatchPayload,
  encodeFrame,
  encodeFrameDelimited,
} from '../src/codec/index.js'
import { type Frame, FrameSchema } from '../src/gen/es/imwire/v1/frame_pb.js'
import { Frame as TsFrame } from '../test/gen/tsproto/imwire/v1/frame.js'

const quick = process.argv.includes('--quick')
const streamOnly = process.argv.includes('--stream')
/** Each function runs ROUNDS slices of SLICE_MS, interleaved with its peers. */
const ROUNDS = quick ? 3 : 7
const SLICE_MS = quick ? 60 : 100
const WARMUP_MS = quick ? 50 : 200

let sink = 0

/**
 * Operations per CPU second (user + system time of this process) over a slice
 * of `ms` wall time. CPU time, not wall time: on a shared machine another
 * process taking the core stops the clock instead of being charged to
 * whichever contender happened to run. GC threads count (they are the
 * contender's cost).
 */
function runFor(fn: () => number, ms: number, batch: number): number {
  let n = 0
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < batch; i++) sink += fn()
    n += batch
  }
  const c = process.cpuUsage(c0)
  return n / ((c.user + c.system) / 1e6)
}

/**
 * Operations per second of each function: the median of ROUNDS slices, the
 * functions interleaved round by round so that a burst of load on a shared
 * machine hits every contender alike instead of one of them.
 */
function opsPerSec(fns: Array<() => number>, batch = 200): number[] {
  for (const fn of fns) runFor(fn, WARMUP_MS, batch)
  const samples: number[][] = fns.map(() => [])
  for (let r = 0; r < ROUNDS; r++) for (const [i, fn] of fns.entries()) samples[i]?.push(runFor(fn, SLICE_MS, batch))
  return samples.map((xs) => xs.sort((a, b) => a - b)[xs.length >> 1] as number)
}

// ---- realistic frames ---------------------------------------------------------

const PHRASES = ['ok', 'see you at 6?', 'lunch today?', 'sure 👍', 'running late, 10 min', 'did you push the fix?']
const PHRASES2 = [
  'yes, CI is green',
  'haha',
  'can you review my PR',
  'thanks!',
  'meeting moved to 3pm',
  'where are the slides?',
]
const USERS = ['alice', 'bob', 'carol', 'dave']

function randomBytes(seed: number, n: number): Uint8Array {
  let x = seed * 2654435761 || 1
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x & 0xff
  })
}

function chatDeliver(i: number): Frame {
  const user = USERS[i % USERS.length] as string
  const text = `${PHRASES[i % PHRASES.length]} ${PHRASES2[(i * 7) % PHRASES2.length]}${i % 3 === 0 ? ` #${(i * 7919) % 1000}` : ''}`
  return create(FrameSchema, {
    body: {
      case: 'deliver',
      value: {
        message: {
          conversationId: `conv-${i % 5}`,
          seq: BigInt(100000 + i),
          messageId: `m-${(0x5f3a0000 + i * 37).toString(16)}`,
          senderUserId: user,
          senderDeviceId: `${user}-phone`,
          clientMsgId: randomBytes(i + 1, 16),
          serverTimeMs: 1763800000000n + BigInt(i * 1500),
          contentType: 'text/plain',
          body: new TextEncoder().encode(text),
        },
        epoch: 1n,
      },
    },
  })
}

const cid = randomBytes(7, 16)
const frames: Record<string, Frame> = {
  Send: create(FrameSchema, {
    body: {
      case: 'send',
      value: {
        clientMsgId: cid,
        conversationId: 'conv-3',
        sendSeq: 42n,
        contentType: 'text/plain',
        body: new TextEncoder().encode('running late, 10 min 👍'),
      },
    },
  }),
  SendAck: create(FrameSchema, {
    body: {
      case: 'sendAck',
      value: {
        clientMsgId: cid,
        conversationId: 'conv-3',
        seq: 100042n,
        messageId: 'm-5f3a1a2b',
        serverTimeMs: 1763800000123n,
        epoch: 1n,
      },
    },
  }),
  Deliver: chatDeliver(42),
  DeliverAck: create(FrameSchema, {
    body: { case: 'deliverAck', value: { conversationId: 'conv-3', upToSeq: 100042n } },
  }),
  // Heartbeats: one Ping and one Pong per connection per heartbeat period.
  Ping: create(FrameSchema, { body: { case: 'ping', value: { nonce: 1763800000123n } } }),
  Pong: create(FrameSchema, { body: { case: 'pong', value: { nonce: 1763800000123n } } }),
}

// ---- peers ---------------------------------------------------------------------------

const protoDir = fileURLToPath(new URL('../proto/', import.meta.url))
const pbRoot = new protobuf.Root()
pbRoot.resolvePath = (_origin, target) => protoDir + target
await pbRoot.load('imwire/v1/frame.proto', { keepCase: false })
const PbFrame = pbRoot.lookupType('imwire.v1.Frame')

interface Row {
  frame: string
  codec: string
  size: number
  enc: number
  dec: number
}

function measureFrame(name: string, f: Frame): Row[] {
  const bin = toBinary(FrameSchema, f)
  const ts = TsFrame.decode(bin)
  const pb = PbFrame.decode(bin)
  const jsonObj = toJson(FrameSchema, f)
  const jsonStr = JSON.stringify(jsonObj)
  for (const [codec, bytes] of [
    ['imwire', encodeFrame(f)],
    ['ts-proto', TsFrame.encode(ts).finish()],
    ['protobufjs', PbFrame.encode(pb).finish()],
  ] as const) {
    if (Buffer.compare(Buffer.from(bytes), Buffer.from(bin)) !== 0)
      throw new Error(`${codec} encodes ${name} differently`)
  }
  const contenders: Array<[string, number, () => number, () => number]> = [
    ['imwire (hot path)', bin.length, () => encodeFrame(f).length, () => (decodeFrame(bin).body.case ? 1 : 0)],
    [
      'protobuf-es',
      bin.length,
      () => toBinary(FrameSchema, f).length,
      () => (fromBinary(FrameSchema, bin).body.case ? 1 : 0),
    ],
    ['ts-proto', bin.length, () => TsFrame.encode(ts).finish().length, () => (TsFrame.decode(bin) ? 1 : 0)],
    ['protobufjs', bin.length, () => PbFrame.encode(pb).finish().length, () => (PbFrame.decode(bin) ? 1 : 0)],
    ['JSON.stringify/parse', jsonStr.length, () => JSON.stringify(jsonObj).length, () => (JSON.parse(jsonStr) ? 1 : 0)],
  ]
  const enc = opsPerSec(contenders.map((c) => c[2]))
  const dec = opsPerSec(contenders.map((c) => c[3]))
  return contenders.map(([codec, size], i) => ({
    frame: name,
    codec,
    size,
    enc: enc[i] as number,
    dec: dec[i] as number,
  }))
}

const kfmt = (n: number) => `${(n / 1000).toFixed(0)}k`
const lines: string[] = []
lines.push(
  `imwire codec benchmark: node ${process.version}; median of ${ROUNDS} interleaved slices of ${SLICE_MS} ms per number, per CPU second`,
)
lines.push('')
if (!streamOnly) {
  lines.push('| frame | codec | bytes | encode frames/s | vs protobufjs | decode frames/s | vs protobufjs |')
  lines.push('|---|---|---:|---:|---:|---:|---:|')
  for (const [name, f] of Object.entries(frames)) {
    const rows = measureFrame(name, f)
    const ref = rows.find((r) => r.codec === 'protobufjs') as Row
    for (const r of rows) {
      lines.push(
        `| ${r.frame} | ${r.codec} | ${r.size} | ${kfmt(r.enc)} | ${(r.enc / ref.enc).toFixed(2)}x | ${kfmt(r.dec)} | ${(r.dec / ref.dec).toFixed(2)}x |`,
      )
    }
    process.stderr.write(`${name} done\n`)
  }

  // ---- LZ4 batches ----------------------------------------------------------------------

  lines.push('')
  lines.push(
    '| batch payload | LZ4 implementation | raw bytes | block bytes | ratio | compress MB/s | decompress MB/s |',
  )
  lines.push('|---|---|---:|---:|---:|---:|---:|')
  for (const n of [64, 512]) {
    const raw = encodeBatchPayload(Array.from({ length: n }, (_, i) => chatDeliver(i)))
    const rawBuf = Buffer.from(raw)
    const ours = compressLz4Block(raw)
    const napiFramed = lz4napi.compressSync(rawBuf)
    const napiBlock = napiFramed.subarray(4)
    if (Buffer.compare(Buffer.from(decodeLz4Block(napiBlock, raw.length)), rawBuf) !== 0)
      throw new Error('lz4-napi block mismatch')
    const size = Buffer.alloc(4)
    size.writeUInt32LE(raw.length)
    const oursFramed = Buffer.concat([size, ours])
    const mbps = (opsSec: number) => ((opsSec * raw.length) / 1e6).toFixed(0)
    const [oc, nc] = opsPerSec([() => compressLz4Block(raw).length, () => lz4napi.compressSync(rawBuf).length], 4)
    const [od, nd] = opsPerSec(
      [() => decodeLz4Block(ours, raw.length).length, () => lz4napi.uncompressSync(oursFramed).length],
      4,
    )
    const rows: Array<[string, number, number, number]> = [
      ['lz4js compressBlock (made standard) + bounded decoder', ours.length, oc as number, od as number],
      ['lz4-napi (lz4_flex, native)', napiBlock.length, nc as number, nd as number],
    ]
    for (const [impl, blockLen, c, d] of rows) {
      lines.push(
        `| ${n} chat Delivers | ${impl} | ${raw.length} | ${blockLen} | ${(blockLen / raw.length).toFixed(3)} | ${mbps(c)} | ${mbps(d)} |`,
      )
    }
    process.stderr.write(`lz4 ${n} done\n`)
  }
}

// ---- a 1 MiB frame through the stream decoder -----------------------------------------

/**
 * CPU milliseconds per call of a slow function (one call may take seconds):
 * one warm-up call, then the median of ROUNDS samples, each calling fn until
 * SLICE_MS of CPU time has passed (at least once).
 */
function cpuMsPerCall(fn: () => number): number {
  sink += fn()
  const samples: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0
    const c0 = process.cpuUsage()
    let cpu = 0
    do {
      sink += fn()
      n++
      const c = process.cpuUsage(c0)
      cpu = (c.user + c.system) / 1000
    } while (cpu < SLICE_MS)
    samples.push(cpu / n)
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1] as number
}

/** The delimited bytes cut into chunks of `size` (views, cut once, outside the measurement). */
function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let pos = 0; pos < bytes.length; pos += size) out.push(bytes.subarray(pos, pos + size))
  return out
}

{
  // A Send whose encoding is exactly DEFAULT_MAX_FRAME_BYTES (1 MiB) long.
  const sendOf = (n: number) =>
    create(FrameSchema, { body: { case: 'send', value: { conversationId: 'c', body: randomBytes(3, n) } } })
  let bodyLen = DEFAULT_MAX_FRAME_BYTES - 16
  bodyLen += DEFAULT_MAX_FRAME_BYTES - encodeFrame(sendOf(bodyLen)).length
  if (encodeFrame(sendOf(bodyLen)).length !== DEFAULT_MAX_FRAME_BYTES)
    throw new Error('stream bench frame is not 1 MiB')
  const big = encodeFrameDelimited(sendOf(bodyLen))
  const feeders: Array<[string, (chunks: Uint8Array[]) => number]> = [
    [
      'StreamDecoder.feed',
      (chunks) => {
        const d = new StreamDecoder()
        let got = 0
        for (const c of chunks) d.feed(c, () => void got++)
        return got
      },
    ],
  ]
  lines.push('')
  lines.push('| 1 MiB frame, TCP form | decoder | chunk bytes | chunks | CPU ms per frame | frames/s |')
  lines.push('|---|---|---:|---:|---:|---:|')
  for (const [name, feed] of feeders) {
    for (const size of [big.length, 512, 64]) {
      const chunks = chunked(big, size)
      if (feed(chunks) !== 1) throw new Error(`${name} did not decode the frame`)
      const ms = cpuMsPerCall(() => feed(chunks))
      const label = size === big.length ? 'whole' : String(size)
      lines.push(
        `| ${(big.length / 1048576).toFixed(2)} MiB | ${name} | ${label} | ${chunks.length} | ${ms.toFixed(2)} | ${(1000 / ms).toFixed(0)} |`,
      )
      process.stderr.write(`stream ${name} ${label} done\n`)
    }
  }
}

lines.push('')
lines.push(
  'imwire decodes strictly (wire types, nested bounds, UTF-8) on every path; protobuf-es, ts-proto and protobufjs do less checking.',
)
process.stdout.write(`${lines.join('\n')}\n`)
if (sink === 0.5) process.stdout.write('\n')
