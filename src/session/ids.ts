// Identifier syntax and uint64 helpers shared by the session and the store.

/** User ids: [CNV-9] [AUTH-1]. */
export const USER_ID_RE = /^[A-Za-z0-9._-]{1,64}$/
/** Device ids: Hello.device_id. [HS-7] */
export const DEVICE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/
/** Conversation ids: [CNV-1]. */
export const CONVERSATION_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/

export const isUserId = (s: string): boolean => USER_ID_RE.test(s)
export const isDeviceId = (s: string): boolean => DEVICE_ID_RE.test(s)
export const isConversationId = (s: string): boolean => CONVERSATION_ID_RE.test(s)

/**
 * Seqs are uint64 on the wire and plain numbers inside the server: a
 * conversation would need 2^53 messages to overflow. Peer-supplied values
 * above 2^53 become Infinity, which compares above every real seq (so an ack
 * of 2^63 is "too high", a send_seq of 2^63 is "out of order").
 */
export function seqFromWire(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v)
}

export const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8')
