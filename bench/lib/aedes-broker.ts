// The peer under test: an aedes MQTT broker with its default in-memory
// persistence, on TCP and on WebSocket (ws + createWebSocketStream, as aedes'
// own example does). Run as a child process by bench/server.ts; prints the same
// JSON listening line as `imwire serve`.
import http from 'node:http'
import net from 'node:net'
import { Aedes } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'

async function main(): Promise<void> {
  const broker = await Aedes.createBroker()
  const tcp = net.createServer({ noDelay: true }, broker.handle)
  const httpServer = http.createServer()
  const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false })
  wss.on('connection', (socket, req) => {
    const stream = createWebSocketStream(socket)
    broker.handle(stream, req)
  })
  broker.on('clientError', () => {})
  broker.on('connectionError', () => {})
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r))
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r))
  const t = tcp.address() as net.AddressInfo
  const w = httpServer.address() as net.AddressInfo
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', tcp: `127.0.0.1:${t.port}`, ws: `ws://127.0.0.1:${w.port}/` })}\n`,
  )
  const stop = () => {
    tcp.close()
    httpServer.close()
    broker.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 1000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

void main()
