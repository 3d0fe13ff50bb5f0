// Transports: one peer carrying imwire frames, over TCP, WebSocket or memory.
//
// API
// ---
// Connection (abstract class, an EventEmitter)
//   kind: 'tcp' | 'ws' | 'memory'         remoteAddress: string
//   send(frame)            queue one Frame; all frames queued in one event-loop
//                          turn leave in one socket write (TCP: one buffer;
//                          WS: one corked writev of one message per frame).
//   sendEncoded(bytes)     queue an already encoded Frame (no length prefix),
//                          e.g. one Deliver encoded once for many recipients.
//   sendRaw(bytes|string)  write as is (TCP: stream bytes; WS: a binary
//                          message, or a text message for a string). For
//                          tests of malformed input.
//   flush()                write the queue now (normally automatic).
//   setBatching(policy|null)  pack later frames into Batch frames at flush
//                          (LZ4 when negotiated and >= lz4MinBytes and it
//                          helps). Frames queued before the call stay plain.
//   close(code, reason?, retryAfterMs?)  queue Close{code,reason} as the last
//                          frame, flush, then end the socket (WS: close with
//                          the same code). Later sends are dropped. The socket
//                          is destroyed if the peer keeps it open 2 s more.
//   end()                  graceful end without a Close frame (answer to a
//                          peer's Close [ERR-3]; WS close code 1000).
//   destroy()              abrupt: no Close frame, socket destroyed.
//   closed: boolean        bufferedBytes: number (queue + socket buffer)
// Events
//   'frame' (frame, bytes) one decoded frame, in arrival order.
//   'codecError' (err: CodecError)  invalid input (bad prefix, over max frame
//                          size, malformed protobuf, WS text message); no
//                          'frame' follows. The connection then closes
//                          with err.closeCode unless the listener closed it
//                          itself (synchronously) first.
//   'close' (info: CloseInfo)  once: {local, wsCode?, wsReason?, error?,
//                          truncatedBytes} (a partial frame at end of stream
//                          is discarded, [FRM-8]).
//   'drain'                the socket's buffer drained.
//
// Connectors (client side), rejecting when the connection cannot be opened:
//   connectTcp(host, port, {maxFrameBytes?, connectTimeoutMs?})
//   connectWs(url, {maxFrameBytes?, connectTimeoutMs?, protocols?})
// Listeners (server side), resolving once listening:
//   listenTcp({host?, port?, maxFrameBytes?}, onConnection) -> Listener
//   listenWs({host?, port?, path? = '/imwire', maxFrameBytes?}, onConnection)
//   Listener: {address, host, port, close(): stop accepting now; resolves
//   when every accepted connection has closed}
// Tests:
//   createMemoryPair({maxFrameBytesA?, maxFrameBytesB?}) -> [a, b]
//
// Max frame size is the receive limit of this side ([FRM-3]); what this side
// may send is the peer's limit, which the session enforces ([FRM-9]).
export {
  Connection,
  type CloseInfo,
  type ConnectionEvents,
  type TransportKind,
  CLOSE_LINGER_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  truncateReason,
} from './connection.js'
export type { BatchPolicy } from './batcher.js'
export {
  TcpConnection,
  connectTcp,
  listenTcp,
  type Listener,
  type TcpOptions,
  type ConnectTcpOptions,
  type ListenTcpOptions,
} from './tcp.js'
export {
  WsConnection,
  connectWs,
  listenWs,
  WS_SUBPROTOCOL,
  type WsOptions,
  type ConnectWsOptions,
  type ListenWsOptions,
} from './ws.js'
export { MemoryConnection, createMemoryPair, type MemoryPairOptions } from './memory.js'
