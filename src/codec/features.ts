// Negotiated features (Hello.features / Welcome.features) and the frame
// bodies each one defines. A body listed here is unsupported (3511) on a
// connection that did not enable its feature, exactly like a body v1 does
// not define. [HS-5] [GEN-2] [RD-1] [INB-1] [FRM-7]
import type { FrameBodyCase } from './frame-tags.js'

export const FEATURE_LZ4 = 'lz4'
export const FEATURE_READ_STATE = 'read-state'
export const FEATURE_INBOX = 'inbox'
export const FEATURE_HISTORY_TIME = 'history-time'

/** Every feature this implementation knows. */
export const KNOWN_FEATURES = [FEATURE_LZ4, FEATURE_READ_STATE, FEATURE_INBOX, FEATURE_HISTORY_TIME] as const

/** The feature that defines a Frame body (fields 25 to 34); v1 bodies are absent. */
export const FEATURE_OF_BODY: Readonly<Partial<Record<FrameBodyCase, string>>> = Object.freeze({
  markRead: FEATURE_READ_STATE,
  markReadResult: FEATURE_READ_STATE,
  readUpdated: FEATURE_READ_STATE,
  peerRead: FEATURE_READ_STATE,
  readCountRequest: FEATURE_READ_STATE,
  readCountResult: FEATURE_READ_STATE,
  inboxRequest: FEATURE_INBOX,
  inboxPage: FEATURE_INBOX,
  syncRequest: FEATURE_INBOX,
  syncPage: FEATURE_INBOX,
})

/** InboxRequest/SyncRequest.preview_bytes 0 means this many body bytes. [INB-3] */
export const PREVIEW_BYTES_DEFAULT = 256
/** preview_bytes above this means this. [INB-3] */
export const PREVIEW_BYTES_MAX = 4096
/** An InboxEntry lists its member ids up to this many members (or when asked). [INB-3] */
export const INBOX_LISTED_MEMBERS = 8
