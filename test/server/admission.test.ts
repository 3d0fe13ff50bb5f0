// Connection admission over real sockets [SEC-2]: the connection past a bound
// on connections or on handshakes in progress, in total or from one address,
// gets Close 3006 TRY_AGAIN_LATER with a retry_after_ms [ERR-14]. Every
// connection here comes from 127.0.0.1; the per-address and total bounds are
// told apart by the Close reason (the unit test at the end keeps addresses
// apart).
import t, { type Test } from 'tap'
import { WebSocket } from 'ws'
import { decodeFrame } from '../../src/codec/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import type { Frame } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { Admission, type AdmissionLimits, DEFAULT_ADMISSION, sourceAddress } from '../../src/server/admission.js'
import { type RunningServer, startServer } from '../../src/server/server.js'
import { createMemoryStore } from '../../src/server/store/sqlite-store.js'
import { makeTestToken } from '../../src/session/test-token.js'
import { WS_SUBPROTOCOL } from '../../src/transport/index.js'
import { type Kind, Peer } from './peer.js'

const SECRET = 'admission-secret'

async function serve(t: Test, admission: Partial<AdmissionLimits>): Promise<RunningServer> {
  const server = await startServer({
    store: createMemoryStore(),
    tokenSecret: SECRET,
    tcp: { host: '127.0.0.1', port: 0 },
    ws: { host: '127.0.0.1', port: 0, path: '/imwire' },
    admission,
  })
  t.teardown(() => server.shutdown())
  return server
}

/**
 * Open a connection that must be refused: Close 3006 (and WebSocket close code
 * 3006) with a retry_after_ms in the configured range. Over WebSocket a raw
 * client listens from the start: the refusal can arrive with the upgrade.
 */
async function expectRefused(t: Test, kind: Kind, server: RunningServer, reason: RegExp): Promise<void> {
  let first: Frame
  if (kind === 'tcp') {
    const p = await Peer.open(kind, server)
    first = await p.next()
    await p.closed
  } else {
    const ws = new WebSocket(server.wsUrl as string, [WS_SUBPROTOCOL])
    const frames: Frame[] = []
    ws.on('message', (data: Buffer) => frames.push(decodeFrame(new Uint8Array(data))))
    const code = await new Promise<number>((resolve, reject) => {
      ws.on('close', (c) => resolve(c))
      ws.on('error', reject)
    })
    t.equal(code, CloseCode.TRY_AGAIN_LATER, 'WebSocket close code 3006 too [ERR-2]')
    t.equal(frames.length, 1, 'one frame')
    first = frames[0] as Frame
  }
  t.equal(first?.body.case, 'close', 'nothing but Close before Welcome [HS-2]')
  if (first?.body.case !== 'close') return
  const c = first.body.value
  t.equal(c.code, CloseCode.TRY_AGAIN_LATER)
  t.match(c.reason, reason)
  t.ok(c.retryAfterMs >= 1000 && c.retryAfterMs < 5000, `retry_after_ms ${c.retryAfterMs} in [1000, 5000)`)
}

/** Open connections until one is admitted (the server notices a close asynchronously); bounded. */
async function admittedAgain(server: RunningServer, kind: Kind, user: string): Promise<boolean> {
  for (let i = 0; i < 250; i++) {
    const p = await Peer.open(kind, server)
    p.send({ case: 'hello', value: { versions: [1], token: makeTestToken(SECRET, user), deviceId: 'd' } })
    const f = await p.next().catch(() => null)
    p.destroy()
    if (f?.body.case === 'welcome') return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

for (const kind of ['tcp', 'ws'] as Kind[]) {
  for (const [bound, limits, reason] of [
    ['in total', { maxConnections: 2 }, /^too many connections$/],
    ['from one address', { maxConnectionsPerAddress: 2 }, /^too many connections from this address$/],
  ] as const) {
    t.test(`${kind}: the connection past the bound ${bound} gets 3006 with retry_after_ms [SEC-2]`, async (t) => {
      const server = await serve(t, limits)
      const a = await Peer.open(kind, server)
      await a.login(SECRET, 'alice', 'a1')
      const b = await Peer.open(kind, server)
      await b.login(SECRET, 'bob', 'b1')
      await expectRefused(t, kind, server, reason)
      // The admitted ones are untouched.
      a.send({ case: 'ping', value: { nonce: 5n } })
      t.equal((await a.expect('pong')).nonce, 5n)
      b.destroy()
      t.ok(await admittedAgain(server, kind, 'carol'), 'a closed connection frees its place')
      a.destroy()
    })
  }

  for (const [bound, limits, reason] of [
    ['in total', { maxHandshakes: 2 }, /^too many handshakes in progress$/],
    ['from one address', { maxHandshakesPerAddress: 2 }, /^too many handshakes in progress from this address$/],
  ] as const) {
    t.test(`${kind}: the handshake past the bound ${bound} gets 3006; Welcome frees the place [SEC-2]`, async (t) => {
      const server = await serve(t, limits)
      const a = await Peer.open(kind, server) // no Hello yet
      const b = await Peer.open(kind, server)
      await expectRefused(t, kind, server, reason)
      await a.hello(SECRET, 'alice', 'a1') // Welcome: a's handshake is over, the connection stays
      const d = await Peer.open(kind, server)
      t.ok(await d.hello(SECRET, 'dave', 'd1'), 'admitted once a handshake finished')
      const e = await Peer.open(kind, server) // b and e in handshake now
      await expectRefused(t, kind, server, reason)
      t.ok(await e.hello(SECRET, 'erin', 'e1'), 'the admitted handshakes go on')
      for (const p of [a, b, d, e]) p.destroy()
    })
  }
}

t.test('Admission: addresses are counted apart; a closed address is forgotten [SEC-2]', async (t) => {
  const a = new Admission({ ...DEFAULT_ADMISSION, maxConnectionsPerAddress: 1, maxHandshakesPerAddress: 1 }, () => 0.5)
  t.equal(a.admit('10.0.0.1'), null)
  t.same(a.admit('10.0.0.1'), { reason: 'too many connections from this address', retryAfterMs: 3000 })
  t.equal(a.admit('10.0.0.2'), null, 'another address has its own bound')
  a.handshakeDone('10.0.0.1')
  a.release('10.0.0.1')
  a.handshakeDone('10.0.0.2')
  a.release('10.0.0.2')
  t.same(a.open, { connections: 0, handshakes: 0, addresses: 0 })
  t.same(['1.2.3.4:5', '[::1]:80', '::ffff:127.0.0.1:9', 'mem'].map(sourceAddress), [
    '1.2.3.4',
    '::1',
    '::ffff:127.0.0.1',
    'mem',
  ])
})
