// Framing of the client driver protocol (conformance/client-driver.md): each
// Command and Event is one size-delimited protobuf message (a varint length,
// then the message), the same framing imwire uses on TCP, so any protobuf
// runtime reads it with its "delimited" helpers.
import type { DescMessage, MessageShape } from '@bufbuild/protobuf'
import { sizeDelimitedDecodeStream, sizeDelimitedEncode } from '@bufbuild/protobuf/wire'

/** Largest driver message either side accepts: a report of a big outbox fits, garbage does not. */
export const MAX_DRIVER_MESSAGE_BYTES = 16 * 1024 * 1024

export function encodeDelimited<D extends DescMessage>(desc: D, msg: MessageShape<D>): Uint8Array {
  return sizeDelimitedEncode(desc, msg)
}

/** Decodes a byte stream into messages; throws on a truncated or oversize message. */
export function decodeDelimited<D extends DescMessage>(
  desc: D,
  input: AsyncIterable<Uint8Array>,
): AsyncIterableIterator<MessageShape<D>> {
  return sizeDelimitedDecodeStream(desc, input, { readMaxBytes: MAX_DRIVER_MESSAGE_BYTES })
}
