// A TCP connection to the WebSocket endpoint that starts an upgrade request
// and never finishes it (the blank line that ends the headers never comes).
// [HS-17]: the server should close it within its handshake timeout, counted
// from accept; there is no WebSocket yet to carry a Close.
import net from 'node:net'
import { TargetUnreachable } from './transport.js'

export interface StalledUpgrade {
  /** performance.now() when the TCP connection was established. */
  openedAt: number
  /** Settles when the server closes the connection: when, and how many bytes it sent first. */
  closed: Promise<{ at: number; bytes: number }>
  destroy(): void
}

export function openStalledUpgrade(url: string, timeoutMs: number): Promise<StalledUpgrade> {
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), host)
    let bytes = 0
    socket.on('data', (d: Buffer) => {
      bytes += d.length
    })
    const closed = new Promise<{ at: number; bytes: number }>((done) =>
      socket.once('close', () => done({ at: performance.now(), bytes })),
    )
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new TargetUnreachable(`${url}: connect timed out`))
    }, timeoutMs)
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(new TargetUnreachable(`${url}: ${err.code ?? err.message}`))
    })
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.on('error', () => {}) // a reset by the server is one way of closing
      const openedAt = performance.now()
      socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`)
      resolve({ openedAt, closed, destroy: () => socket.destroy() })
    })
  })
}
