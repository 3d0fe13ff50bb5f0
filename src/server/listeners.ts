// Phase 4 of startServer: the TCP and WebSocket listeners. If one cannot
// listen, the ones already open are closed before the error goes up.
import { type Connection, type Listener, listenTcp, listenWs } from '../transport/index.js'
import type { ServerOptions } from './server.js'

export interface OpenListeners {
  all: Listener[]
  tcp: Listener | null
  ws: Listener | null
}

export async function openListeners(
  opts: Pick<ServerOptions, 'tcp' | 'ws'>,
  maxFrameBytes: number,
  handshakeTimeoutMs: number,
  accept: (conn: Connection) => void,
): Promise<OpenListeners> {
  const all: Listener[] = []
  let tcp: Listener | null = null
  let ws: Listener | null = null
  try {
    if (opts.tcp) {
      tcp = await listenTcp({ ...opts.tcp, maxFrameBytes }, accept)
      all.push(tcp)
    }
    if (opts.ws) {
      // [HS-17] the upgrade request is bounded by the handshake timeout too
      ws = await listenWs({ upgradeTimeoutMs: handshakeTimeoutMs, ...opts.ws, maxFrameBytes }, accept)
      all.push(ws)
    }
  } catch (err) {
    await Promise.all(all.map((l) => l.close()))
    throw err
  }
  return { all, tcp, ws }
}
