// What the runner needs from a transport: byte-level control in both
// directions. Frames arrive as raw frame bytes (without the TCP prefix) so the
// transcript can show exactly what the server sent; everything else the
// server does (text messages, bytes that cannot be framed, the way it closes)
// arrives as an event.

export type TransportKind = 'tcp' | 'ws'

/** The transport a `"transport": "other"` connection uses in a case run over `kind`. */
export function otherTransport(kind: TransportKind): TransportKind {
  return kind === 'tcp' ? 'ws' : 'tcp'
}

export type TransportEvent =
  | { type: 'frame'; bytes: Uint8Array }
  /** Bytes that cannot be split into frames (bad prefix, oversize, WS text). */
  | { type: 'garbage'; detail: string; bytes: Uint8Array }
  | {
      type: 'closed'
      /** How the connection ended as seen from here. */
      how: 'fin' | 'rst' | 'ws-close' | 'error'
      /** WebSocket close code (ws only). */
      wsCode?: number
      wsReason?: string
      /** Bytes of an incomplete frame left when the stream ended. */
      truncated?: number
      detail?: string
    }

export interface Transport {
  readonly kind: TransportKind
  /** One frame (no prefix): TCP adds the varint prefix; WS sends one binary message. */
  writeFrame(frameBytes: Uint8Array): void
  /** Exact bytes: TCP writes them as is; WS sends one binary message. */
  writeRaw(bytes: Uint8Array): void
  /** TCP: write in pieces, one write per piece, each flushed before the next. WS: each piece one message. */
  writeChunks(bytes: Uint8Array, chunkBytes: number): Promise<void>
  /**
   * WS only: bytes written on the socket under the WebSocket framing (a
   * hand-made WebSocket frame header, say), for RFC 6455-level cases.
   */
  writeWsBytes?(bytes: Uint8Array): void
  /** WS text message. TCP: not possible (throws). */
  writeText(text: string): void
  /** Close the transport without an imwire Close frame (TCP FIN; WS close handshake with `wsCode`). */
  end(wsCode?: number): void
  /** Abort with a TCP RST (WS: RST of the underlying socket). */
  reset(): void
  /** Write the first half of one frame as the transport would carry it, then end the stream (FIN). */
  cutFrame(frameBytes: Uint8Array): void
  onEvent(listener: (e: TransportEvent) => void): void
  readonly closed: boolean
  /** WS: the subprotocol the server selected ('' for none). TCP: undefined. */
  readonly subprotocol?: string
}

/** How to open a transport; only WebSocket has options. */
export interface OpenOptions {
  /** Sec-WebSocket-Protocol values to offer (default: imwire.v1 only; [] offers none). */
  subprotocols?: string[]
}

export class TargetUnreachable extends Error {
  override name = 'TargetUnreachable'
}

/** The server answered the WebSocket upgrade with an HTTP status other than 101. */
export class UpgradeRefused extends Error {
  override name = 'UpgradeRefused'
  constructor(
    readonly status: number,
    readonly statusText: string,
  ) {
    super(`upgrade refused with HTTP ${status} ${statusText}`.trim())
  }
}
