// [HB-2] on a busy machine: when the server's event loop stalls, its idle
// timer can come due while a frame from the peer already waits, unread, in
// the socket. Node runs timers before it reads sockets, so a server that
// judged the timer at once would close a peer that was never silent. The
// test stalls this process (server and client share it) after the client's
// Ping has reached the kernel, past the 1.5 x heartbeat deadline.
import t from 'tap'
import { startServer } from '../../src/server/server.js'
import { createMemoryStore } from '../../src/server/store/sqlite-store.js'
import { Peer } from './peer.js'

const SECRET = 'stall-secret'
const HEARTBEAT_MS = 1000

/** Blocks the event loop: nothing is read, no timer runs. */
function stall(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy
  }
}

t.test('a Ping waiting in the socket when the idle deadline passes keeps the connection open', async (t) => {
  const server = await startServer({
    store: createMemoryStore(),
    tokenSecret: SECRET,
    tcp: { host: '127.0.0.1', port: 0 },
    ws: null,
  })
  t.teardown(() => server.shutdown())
  const peer = await Peer.open('tcp', server)
  t.teardown(() => peer.destroy())
  await peer.login(SECRET, 'alice', 'a1', { heartbeatMs: HEARTBEAT_MS })
  peer.send({ case: 'ping', value: { nonce: 7n } })
  peer.conn.flush() // the Ping is in the kernel's buffers now
  // Past the server's deadline (1.5 x heartbeat after the last frame it read).
  stall(HEARTBEAT_MS * 1.5 + 300)
  const f = await peer.next()
  t.equal(f.body.case, 'pong', `got ${f.body.case}${f.body.case === 'close' ? ` ${f.body.value.code}` : ''}`)
  t.equal(peer.closeInfo, null, 'the connection is still open')
})
