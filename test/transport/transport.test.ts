// Transport adapters: the same behaviour over TCP, WebSocket and memory.
import net from 'node:net'
import { create } from '@bufbuild/protobuf'
import t from 'tap'
import { WebSocket } from 'ws'
import { type CodecError, decodeBatch, encodeFrame } from '../../src/codec/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import {
  type CloseInfo,
  type Connection,
  connectTcp,
  connectWs,
  createMemoryPair,
  type Listener,
  listenTcp,
  listenWs,
} from '../../src/transport/index.js'

const ping = (n: number): Frame => create(FrameSchema, { body: { case: 'ping', value: { nonce: BigInt(n) } } })

interface Pair {
  client: Connection
  server: Connection
  listener?: Listener
}

type Kind = 'tcp' | 'ws' | 'memory'

async function open(kind: Kind, maxFrameBytes?: number): Promise<Pair> {
  if (kind === 'memory') {
    const [client, server] = createMemoryPair({ maxFrameBytesB: maxFrameBytes })
    return { client, server }
  }
  let accept!: (c: Connection) => void
  const accepted = new Promise<Connection>((r) => {
    accept = r
  })
  if (kind === 'tcp') {
    const listener = await listenTcp({ port: 0, maxFrameBytes }, accept)
    const client = await connectTcp('127.0.0.1', listener.port)
    return { client, server: await accepted, listener }
  }
  const listener = await listenWs({ port: 0, path: '/imwire', maxFrameBytes }, accept)
  const client = await connectWs(listener.address)
  return { client, server: await accepted, listener }
}

function collect(conn: Connection): { frames: Frame[]; errors: CodecError[]; closed: Promise<CloseInfo> } {
  const frames: Frame[] = []
  const errors: CodecError[] = []
  const closed = new Promise<CloseInfo>((r) => conn.on('close', r))
  conn.on('frame', (f) => frames.push(f))
  conn.on('codecError', (e) => errors.push(e))
  return { frames, errors, closed }
}

async function teardown(p: Pair): Promise<void> {
  p.client.destroy()
  p.server.destroy()
  await p.listener?.close()
}

for (const kind of ['tcp', 'ws', 'memory'] as const) {
  t.test(`${kind}: frames arrive in order in both directions`, async (t) => {
    const p = await open(kind)
    t.teardown(() => teardown(p))
    const s = collect(p.server)
    const c = collect(p.client)
    for (let i = 1; i <= 500; i++) p.client.send(ping(i))
    p.server.send(ping(7))
    while (s.frames.length < 500 || c.frames.length < 1) await new Promise((r) => setTimeout(r, 5))
    t.same(
      s.frames.map((f) => (f.body.case === 'ping' ? Number(f.body.value.nonce) : -1)),
      Array.from({ length: 500 }, (_, i) => i + 1),
    )
    t.equal(c.frames[0]?.body.case, 'ping')
  })

  t.test(`${kind}: close sends a Close frame last, then ends the connection`, async (t) => {
    const p = await open(kind)
    t.teardown(() => teardown(p))
    const c = collect(p.client)
    p.server.send(ping(1))
    p.server.close(CloseCode.GOING_AWAY, 'bye')
    p.server.send(ping(2)) // dropped: Close is the last frame [ERR-2]
    const info = await c.closed
    t.same(
      c.frames.map((f) => f.body.case),
      ['ping', 'close'],
    )
    const last = c.frames[1]
    t.equal(last?.body.case === 'close' ? last.body.value.code : 0, CloseCode.GOING_AWAY)
    if (kind === 'ws') t.equal(info.wsCode, CloseCode.GOING_AWAY, 'WS close code = Close.code')
    t.equal(info.local, false)
  })

  t.test(`${kind}: a frame over max_frame_bytes is a FRAME_TOO_LARGE codec error`, async (t) => {
    const p = await open(kind, 64)
    t.teardown(() => teardown(p))
    const s = collect(p.server)
    const c = collect(p.client)
    p.client.send(ping(1))
    p.client.send(create(FrameSchema, { body: { case: 'error', value: { message: 'x'.repeat(200) } } }))
    p.client.send(ping(3))
    while (s.errors.length === 0) await new Promise((r) => setTimeout(r, 5))
    t.equal(s.errors[0]?.code, 'FRAME_TOO_LARGE')
    t.equal(s.errors[0]?.closeCode, CloseCode.FRAME_TOO_LARGE)
    t.same(
      s.frames.map((f) => f.body.case),
      ['ping'],
      'frames before the bad one are delivered, none after',
    )
    // Nobody closed in the listener: the connection closes with the error's code.
    const info = await c.closed
    const last = c.frames.at(-1)
    t.equal(last?.body.case === 'close' ? last.body.value.code : 0, CloseCode.FRAME_TOO_LARGE)
    if (kind === 'ws') t.equal(info.wsCode, CloseCode.FRAME_TOO_LARGE)
  })

  t.test(`${kind}: bytes that are not a frame are a MALFORMED_FRAME codec error`, async (t) => {
    const p = await open(kind)
    t.teardown(() => teardown(p))
    const s = collect(p.server)
    // TCP/memory: prefix 2 then an invalid wire type; WS: one binary message of the same.
    p.client.sendRaw(kind === 'ws' ? Uint8Array.of(0x0f, 0x00) : Uint8Array.of(2, 0x0f, 0x00))
    while (s.errors.length === 0) await new Promise((r) => setTimeout(r, 5))
    t.equal(s.errors[0]?.closeCode, CloseCode.MALFORMED_FRAME)
  })

  t.test(`${kind}: batching packs a turn's frames into one Batch that decodes to the same frames`, async (t) => {
    const p = await open(kind)
    t.teardown(() => teardown(p))
    const c = collect(p.client)
    const limits = { maxBatchBytes: 1 << 20, maxBatchFrames: 1024, maxFrameBytes: 1 << 20 }
    p.server.send(ping(0)) // queued before setBatching: stays plain
    p.server.setBatching({ lz4: true, uncompressed: true, lz4MinBytes: 1024, ...limits })
    for (let i = 1; i <= 300; i++) p.server.send(ping(i))
    while (c.frames.length < 2) await new Promise((r) => setTimeout(r, 5))
    t.equal(c.frames[0]?.body.case, 'ping')
    const batch = c.frames[1]!
    t.equal(batch.body.case, 'batch')
    const inner = decodeBatch(batch, { ...limits, lz4Enabled: true })
    t.equal(inner.length, 300)
    t.same(
      inner.map((f) => (f.body.case === 'ping' ? Number(f.body.value.nonce) : -1)),
      Array.from({ length: 300 }, (_, i) => i + 1),
    )
  })
}

t.test('tcp: frames queued in one turn leave in one socket write', async (t) => {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const chunks: Buffer[] = []
  const got = new Promise<void>((resolve) =>
    server.on('connection', (s) =>
      s.on('data', (d) => {
        chunks.push(d)
        if (Buffer.concat(chunks).length >= 100 * encodeFrame(ping(1)).length + 100) resolve()
      }),
    ),
  )
  const port = (server.address() as net.AddressInfo).port
  const conn = await connectTcp('127.0.0.1', port)
  t.teardown(() => conn.destroy())
  const sock = (conn as unknown as { socket: net.Socket }).socket
  let writes = 0
  const orig = sock.write.bind(sock)
  sock.write = ((...args: Parameters<net.Socket['write']>) => {
    writes++
    return orig(...args)
  }) as net.Socket['write']
  for (let i = 0; i < 100; i++) conn.send(ping(1))
  await got
  t.equal(writes, 1)
})

t.test('tcp: a stream that ends inside a frame reports the discarded bytes and no frame', async (t) => {
  const p = await open('tcp')
  t.teardown(() => teardown(p))
  const s = collect(p.server)
  const whole = encodeFrame(ping(300))
  p.client.sendRaw(Uint8Array.of(whole.length, ...whole.subarray(0, 2)))
  await new Promise((r) => setTimeout(r, 20))
  p.client.destroy()
  const info = await s.closed
  t.equal(s.frames.length, 0)
  t.equal(info.truncatedBytes, 3)
})

t.test('tcp: a length prefix longer than 5 bytes is MALFORMED (3504)', async (t) => {
  const p = await open('tcp')
  t.teardown(() => teardown(p))
  const s = collect(p.server)
  p.client.sendRaw(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01))
  while (s.errors.length === 0) await new Promise((r) => setTimeout(r, 5))
  t.equal(s.errors[0]?.code, 'BAD_LENGTH_PREFIX')
  t.equal(s.errors[0]?.closeCode, CloseCode.MALFORMED_FRAME)
})

t.test(
  'tcp: five prefix bytes all with the continuation bit are refused at once, before any Hello [FRM-4]',
  async (t) => {
    const p = await open('tcp')
    t.teardown(() => teardown(p))
    const s = collect(p.server)
    const c = collect(p.client)
    // Nothing follows: a reader that waits for a sixth byte never answers.
    p.client.sendRaw(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80))
    await c.closed
    t.equal(s.errors[0]?.code, 'BAD_LENGTH_PREFIX')
    const close = c.frames.at(-1)?.body
    t.equal(
      close?.case === 'close' ? close.value.code : undefined,
      CloseCode.MALFORMED_FRAME,
      'the client sees Close 3504',
    )
  },
)

for (const kind of ['tcp', 'memory'] as const) {
  t.test(`${kind}: frames before a bad prefix in the same chunk are handed over first, with their bytes`, async (t) => {
    const p = await open(kind)
    t.teardown(() => teardown(p))
    const s = collect(p.server)
    const bytes: Uint8Array[] = []
    p.server.on('frame', (_f, b) => bytes.push(b))
    const one = encodeFrame(ping(1))
    const two = encodeFrame(ping(2))
    p.client.sendRaw(Uint8Array.of(one.length, ...one, two.length, ...two, 0x80, 0x80, 0x80, 0x80, 0x80))
    await s.closed
    t.same(
      s.frames.map((f) => (f.body.case === 'ping' ? Number(f.body.value.nonce) : -1)),
      [1, 2],
    )
    t.same(
      bytes.map((b) => Buffer.from(b).toString('hex')),
      [one, two].map((b) => Buffer.from(b).toString('hex')),
    )
    t.equal(s.errors[0]?.code, 'BAD_LENGTH_PREFIX')
  })
}

t.test('ws: a text message is MALFORMED (3504)', async (t) => {
  const p = await open('ws')
  t.teardown(() => teardown(p))
  const s = collect(p.server)
  p.client.sendRaw('hello')
  while (s.errors.length === 0) await new Promise((r) => setTimeout(r, 5))
  t.equal(s.errors[0]?.closeCode, CloseCode.MALFORMED_FRAME)
})

t.test('ws: an upgrade without the imwire.v1 subprotocol or on another path is refused [FRM-12] [FRM-2]', async (t) => {
  const listener = await listenWs({ port: 0, path: '/imwire' }, (c) => c.destroy())
  t.teardown(() => listener.close())
  await t.rejects(connectWs(listener.address, { protocols: ['other'] }))
  await t.rejects(connectWs(`ws://127.0.0.1:${listener.port}/elsewhere`))
  const ws = new WebSocket(listener.address, ['imwire.v1'])
  const proto = await new Promise<string>((r) => ws.on('open', () => r(ws.protocol)))
  t.equal(proto, 'imwire.v1')
  ws.terminate()
})

t.test('listener close resolves once its connections are closed', async (t) => {
  const conns: Connection[] = []
  const listener = await listenTcp({ port: 0 }, (c) => conns.push(c))
  const client = await connectTcp('127.0.0.1', listener.port)
  while (conns.length === 0) await new Promise((r) => setTimeout(r, 5))
  let done = false
  const closing = listener.close().then(() => {
    done = true
  })
  await t.rejects(connectTcp('127.0.0.1', listener.port), 'no longer accepting')
  t.equal(done, false)
  conns[0]!.close(CloseCode.GOING_AWAY)
  await closing
  t.equal(done, true)
  client.destroy()
})

t.test(
  'ws and tcp: frames and a Close the server sends at once are seen by a listener attached after connect',
  async (t) => {
    for (const kind of ['ws', 'tcp'] as const) {
      const onConn = (c: Connection) => {
        c.send(ping(7))
        c.close(CloseCode.TRY_AGAIN_LATER, 'full', 1500)
      }
      const listener =
        kind === 'ws' ? await listenWs({ port: 0, path: '/imwire' }, onConn) : await listenTcp({ port: 0 }, onConn)
      t.teardown(() => listener.close())
      const client = kind === 'ws' ? await connectWs(listener.address) : await connectTcp('127.0.0.1', listener.port)
      const s = collect(client)
      await s.closed
      t.equal(s.frames[0]?.body.case, 'ping', `${kind}: the frame sent at once is not lost`)
      const close = s.frames[1]?.body
      t.equal(
        close?.case === 'close' ? close.value.code : undefined,
        CloseCode.TRY_AGAIN_LATER,
        `${kind}: the Close is seen`,
      )
    }
  },
)
