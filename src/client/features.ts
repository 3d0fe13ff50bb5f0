// The features this client can use ([HS-5], spec.md section 22) and the
// ones it asks for unless told otherwise.

/** Read positions, unread counts, read receipts. [RD-*] */
export const FEATURE_READ_STATE = 'read-state'
/** The conversation list by activity and incremental sync. [INB-*] */
export const FEATURE_INBOX = 'inbox'
/** History pages anchored at a server time. [HIS-10] */
export const FEATURE_HISTORY_TIME = 'history-time'

/** Hello.features when ImwireClientOptions.features is not given. */
export const DEFAULT_FEATURES: readonly string[] = [FEATURE_READ_STATE, FEATURE_INBOX, FEATURE_HISTORY_TIME]
