// `imwire decode`: wire bytes (hex or binary, from a file or stdin) to frames
// as protobuf JSON, batches expanded. On a codec error it prints the error
// code, the close code a receiver would send and the byte offset; a frame that
// decodes but that a receiver closes on anyway (no known body: 3511) is
// flagged next to it.
// Exit codes: 0 decoded, 1 decode error or a frame a receiver closes on, 2 usage error.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type JsonValue, toJson } from '@bufbuild/protobuf'
import {
  type BatchLimits,
  CodecError,
  DEFAULT_BATCH_LIMITS,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_BATCH_FRAMES,
  DEFAULT_MAX_FRAME_BYTES,
  decodeBatch,
  decodeFrame,
  StreamDecoder,
} from '../codec/index.js'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import { BatchCodec, type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { type InputEncoding, inputBytes } from './decode-input.js'
import { receiverClose } from './receiver-close.js'
import { UsageError } from './usage-error.js'

export interface CliIo {
  stdout: { write(s: string): boolean }
  stderr: { write(s: string): boolean }
  /** Standard input, read whole when no file is given (default: process.stdin). */
  stdin?: AsyncIterable<Uint8Array | string>
}

const USAGE = `usage: imwire decode [options] [FILE | -]

Decodes imwire wire bytes and prints each frame as protobuf JSON; batches are
expanded. Input is hex (whitespace, 0x prefixes, colons and commas are ignored)
or raw binary, from FILE or standard input. Text that is not valid hex (an odd
number of digits, a non-hex letter) is refused, not guessed at: fix it or pass
--binary. A frame that decodes but that a receiver closes on in any state (no
known body: 3511 [FRM-7]; a Hello inside a batch: 3510 [BAT-12]) is flagged.

  --form stream|frame|auto  stream: TCP form (length-prefixed frames);
                            frame: one frame (WebSocket form);
                            auto (default): try stream, then frame
  --hex | --binary          input encoding (default: binary when the input has bytes
                            that are not printable text, else hex)
  --max-frame-bytes N       frame size limit (default ${DEFAULT_MAX_FRAME_BYTES})
  --max-batch-bytes N       decompressed batch limit (default ${DEFAULT_MAX_BATCH_BYTES})
  --max-batch-frames N      frames per batch limit (default ${DEFAULT_MAX_BATCH_FRAMES})
  --no-lz4                  refuse LZ4 batches (lz4 not negotiated)
  --json                    one JSON array with offsets and sizes instead of text

Exit codes: 0 decoded, 1 decode error or a frame a receiver closes on,
2 usage error.
`

interface Options {
  form: 'stream' | 'frame' | 'auto'
  encoding: InputEncoding
  limits: BatchLimits
  json: boolean
  file: string | undefined
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} needs a positive integer`)
  return n
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  form: { type: 'string' },
  hex: { type: 'boolean' },
  binary: { type: 'boolean' },
  'max-frame-bytes': { type: 'string' },
  'max-batch-bytes': { type: 'string' },
  'max-batch-frames': { type: 'string' },
  'no-lz4': { type: 'boolean' },
  json: { type: 'boolean' },
} as const

function parseOptions(argv: string[]): Options | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true })
  } catch (err) {
    // node:util parseArgs refuses unknown options and options without their value.
    throw new UsageError((err as Error).message)
  }
  const { values: v, positionals } = parsed
  if (v.help) return 'help'
  const form = v.form ?? 'auto'
  if (form !== 'stream' && form !== 'frame' && form !== 'auto') throw new UsageError('--form is stream, frame or auto')
  if (v.hex && v.binary) throw new UsageError('--hex and --binary exclude each other')
  if (positionals.length > 1) throw new UsageError('only one input file')
  const limits = { ...DEFAULT_BATCH_LIMITS }
  limits.maxFrameBytes = positiveInt('max-frame-bytes', v['max-frame-bytes']) ?? limits.maxFrameBytes
  limits.maxBatchBytes = positiveInt('max-batch-bytes', v['max-batch-bytes']) ?? limits.maxBatchBytes
  limits.maxBatchFrames = positiveInt('max-batch-frames', v['max-batch-frames']) ?? limits.maxBatchFrames
  if (v['no-lz4']) limits.lz4Enabled = false
  return {
    form,
    encoding: v.hex ? 'hex' : v.binary ? 'binary' : 'auto',
    limits,
    json: v.json ?? false,
    file: positionals[0],
  }
}

async function readInput(file: string | undefined, io: CliIo): Promise<Uint8Array> {
  if (file !== undefined && file !== '-') return readFileSync(file)
  const chunks: Buffer[] = []
  for await (const c of io.stdin ?? process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c))
  return Buffer.concat(chunks)
}

interface Decoded {
  offset: number
  length: number
  frame: Frame
  inner?: Frame[]
  error?: CodecError
}

/** Decodes as far as possible; the error, if any, is returned with the frames before it. */
function decodeAll(
  bytes: Uint8Array,
  form: 'stream' | 'frame',
  limits: BatchLimits,
): { frames: Decoded[]; error?: CodecError } {
  const frames: Decoded[] = []
  try {
    if (form === 'frame')
      frames.push({ offset: 0, length: bytes.length, frame: decodeFrame(bytes, limits.maxFrameBytes) })
    else {
      const dec = new StreamDecoder({ maxFrameBytes: limits.maxFrameBytes })
      dec.feed(bytes, (frame, b, offset) => {
        frames.push({ offset, length: b.length, frame })
      })
      dec.end()
    }
  } catch (err) {
    if (err instanceof CodecError) return { frames, error: err }
    throw err
  }
  for (const d of frames) {
    if (d.frame.body.case !== 'batch') continue
    try {
      d.inner = decodeBatch(d.frame, limits)
    } catch (err) {
      if (!(err instanceof CodecError)) throw err
      d.error = err
      return { frames: frames.slice(0, frames.indexOf(d) + 1), error: err }
    }
  }
  return { frames }
}

function describeError(err: CodecError, where: string): string {
  const detail = err.message.startsWith(`${err.code}: `) ? err.message.slice(err.code.length + 2) : err.message
  // [FRM-8] a stream cut inside a frame is a transport loss: nobody is told.
  const close =
    err.closeCode === CloseCode.UNSPECIFIED
      ? 'a transport loss, no close code [FRM-8]'
      : `close ${err.closeCode} ${CloseCode[err.closeCode] ?? ''}`.trimEnd()
  return `error: ${err.code} ${where} (${close}): ${detail}\n`
}

/** The frames a receiver closes on, with where they are; empty when it accepts them all. */
function receiverCloses(frames: Decoded[]): string[] {
  const out: string[] = []
  frames.forEach((d, i) => {
    const c = receiverClose(d.frame, false)
    if (c !== undefined) out.push(`frame ${i + 1} at byte ${d.offset}: ${describeClose(d.frame, false)}`)
    d.inner?.forEach((f, k) => {
      if (receiverClose(f, true) !== undefined)
        out.push(`frame ${i + 1}.${k + 1} (in batch): ${describeClose(f, true)}`)
    })
  })
  return out
}

function describeClose(frame: Frame, inBatch: boolean): string {
  const c = receiverClose(frame, inBatch)
  return c === undefined ? '' : `a receiver closes with ${c.code} ${c.name}: ${c.reason} [${c.requirement}]`
}

function frameJson(frame: Frame, inBatch: boolean): JsonValue {
  const o: Record<string, JsonValue> = { frame: toJson(FrameSchema, frame) }
  const c = receiverClose(frame, inBatch)
  if (c !== undefined) o.receiverCloses = { ...c }
  return o
}

function batchSummary(d: Decoded): string {
  if (d.frame.body.case !== 'batch') return ''
  const b = d.frame.body.value
  const codec = BatchCodec[b.codec] ?? String(b.codec)
  const ratio = b.uncompressedLength > 0 ? ` (ratio ${(b.payload.length / b.uncompressedLength).toFixed(3)})` : ''
  return `batch codec ${codec}, count ${b.count}, payload ${b.payload.length} bytes, uncompressed ${b.uncompressedLength} bytes${ratio}`
}

function render(frames: Decoded[], json: boolean): string {
  if (json) {
    const out = frames.map((d) => {
      const o: Record<string, JsonValue> = {
        offset: d.offset,
        length: d.length,
        ...(frameJson(d.frame, false) as Record<string, JsonValue>),
      }
      if (d.inner !== undefined) o.inner = d.inner.map((f) => toJson(FrameSchema, f))
      const closing = (d.inner ?? []).flatMap((f, k) => {
        const c = receiverClose(f, true)
        return c === undefined ? [] : [{ index: k, ...c }]
      })
      if (closing.length > 0) o.innerReceiverCloses = closing
      return o
    })
    return `${JSON.stringify(out, null, 2)}\n`
  }
  let s = ''
  frames.forEach((d, i) => {
    s += `# frame ${i + 1} at byte ${d.offset}, ${d.length} bytes: ${d.frame.body.case ?? '(no body)'}\n`
    s += `${JSON.stringify(toJson(FrameSchema, d.frame), null, 2)}\n`
    if (receiverClose(d.frame, false) !== undefined) s += `# ${describeClose(d.frame, false)}\n`
    if (d.frame.body.case === 'batch') {
      s += `# ${batchSummary(d)}\n`
      d.inner?.forEach((f, k) => {
        s += `# frame ${i + 1}.${k + 1} (in batch): ${f.body.case ?? '(no body)'}\n`
        s += `${JSON.stringify(toJson(FrameSchema, f), null, 2)}\n`
        if (receiverClose(f, true) !== undefined) s += `# ${describeClose(f, true)}\n`
      })
    }
  })
  return s
}

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let opts: Options | 'help'
  try {
    opts = parseOptions(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr.write(`imwire decode: ${err.message}\n${USAGE}`)
    return 2
  }
  if (opts === 'help') {
    io.stdout.write(USAGE)
    return 0
  }
  let input: Uint8Array
  try {
    input = await readInput(opts.file, io)
  } catch (err) {
    io.stderr.write(`imwire decode: cannot read ${opts.file}: ${(err as Error).message}\n`)
    return 2
  }
  let bytes: Uint8Array
  try {
    bytes = inputBytes(input, opts.encoding)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr.write(`imwire decode: ${err.message}\n${USAGE}`)
    return 2
  }
  let form: 'stream' | 'frame' = opts.form === 'frame' ? 'frame' : 'stream'
  let result = decodeAll(bytes, form, opts.limits)
  if (opts.form === 'auto' && result.error !== undefined) {
    const asFrame = decodeAll(bytes, 'frame', opts.limits)
    if (asFrame.error === undefined) {
      form = 'frame'
      result = asFrame
    } else if (result.frames.length === 0) {
      io.stderr.write(`# as a single frame: ${describeError(asFrame.error, `at byte ${asFrame.error.offset ?? 0}`)}`)
    }
  }
  if (!opts.json)
    io.stdout.write(
      `# ${bytes.length} bytes decoded as ${form === 'stream' ? 'a TCP stream' : 'one frame (WebSocket form)'}\n`,
    )
  io.stdout.write(render(result.frames, opts.json))
  if (result.error !== undefined) {
    const err = result.error
    const inBatch = result.frames.at(-1)?.error === err
    const where = inBatch ? `in the batch frame at byte ${err.offset ?? 0}` : `at byte ${err.offset ?? 0}`
    io.stderr.write(describeError(err, where))
    return 1
  }
  const closing = receiverCloses(result.frames)
  for (const line of closing) io.stderr.write(`receiver closes: ${line}\n`)
  return closing.length === 0 ? 0 : 1
}
