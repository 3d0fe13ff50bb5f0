// The features this client uses ([HS-5], spec.md section 22; their names
// live in the codec) and the ones it asks for unless told otherwise.
import { FEATURE_HISTORY_TIME, FEATURE_INBOX, FEATURE_READ_STATE } from '../codec/index.js'

export { FEATURE_HISTORY_TIME, FEATURE_INBOX, FEATURE_READ_STATE }

/** Hello.features when ImwireClientOptions.features is not given. */
export const DEFAULT_FEATURES: readonly string[] = [FEATURE_READ_STATE, FEATURE_INBOX, FEATURE_HISTORY_TIME]
