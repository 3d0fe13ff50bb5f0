// Errors the client surfaces, each with a stable code (programs match on the
// code, never on the message).
import { CloseCode, ErrorCode } from '../gen/es/imwire/v1/control_pb.js'

export const ClientErrorCode = {
  /** The server refused a request or a send; `errorCode` holds the protocol ErrorCode. [RTY-5] */
  REJECTED: 'REJECTED',
  /** close() was called; pending operations are abandoned (the outbox is kept in the store). */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  /** The server closed with a terminal code (3500-3999); no automatic reconnect. [RTY-4] */
  TERMINATED: 'TERMINATED',
  /** A message larger than the server's max_message_bytes, refused before it entered the outbox. [SND-3] */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /** A request got no answer in time. */
  TIMEOUT: 'TIMEOUT',
  /** A send still unacknowledged once dedupe_window_ms had passed: no longer resent automatically. [RTY-6] */
  EXPIRED: 'EXPIRED',
  /**
   * The call needs a feature ("read-state", "inbox", "history-time") that the
   * server's Welcome did not enable; nothing was sent. `feature` names it. [GEN-2] [RD-1]
   */
  FEATURE_NOT_ENABLED: 'FEATURE_NOT_ENABLED',
} as const
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode]

export class ClientError extends Error {
  readonly code: ClientErrorCode
  /** For REJECTED: the protocol error code. */
  readonly errorCode: ErrorCode
  /** For TERMINATED: the close code. */
  readonly closeCode: CloseCode
  /** For FEATURE_NOT_ENABLED: the feature. */
  readonly feature: string

  constructor(
    code: ClientErrorCode,
    message: string,
    extra: { errorCode?: ErrorCode; closeCode?: CloseCode; feature?: string } = {},
  ) {
    super(`${code}: ${message}`)
    this.name = 'ClientError'
    this.code = code
    this.errorCode = extra.errorCode ?? ErrorCode.UNSPECIFIED
    this.closeCode = extra.closeCode ?? CloseCode.UNSPECIFIED
    this.feature = extra.feature ?? ''
  }
}

/**
 * 3500-3999: terminal, fix the cause before reconnecting [ERR-4] [RTY-4];
 * deployment codes 4500-4999 likewise, 4000-4499 reconnect. [ERR-11]
 */
export function isTerminalClose(code: number): boolean {
  return (code >= 3500 && code <= 3999) || (code >= 4500 && code <= 4999)
}
