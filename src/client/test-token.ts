// Test tokens for clients [AUTH-1]: the session's implementation (the server
// verifies with its twin, verifyTestToken), re-exported so client code does not
// reach into the server's layers by name.
export { makeTestToken } from '../session/test-token.js'
