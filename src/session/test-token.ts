// Test-token scheme. [AUTH-1] [AUTH-2]
//
// token = "imwire-test.v1." + user_id + "." + base64url_nopad(HMAC-SHA256(
//           key = UTF-8 secret, msg = "imwire-test.v1." + user_id))
import { createHmac, timingSafeEqual } from 'node:crypto'
import { isUserId } from './ids.js'

const PREFIX = 'imwire-test.v1.'

function mac(secret: string, userId: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(PREFIX + userId, 'utf8')
    .digest()
}

export function makeTestToken(secret: string, userId: string): string {
  if (!isUserId(userId)) throw new RangeError(`invalid user id: ${JSON.stringify(userId)}`)
  return `${PREFIX}${userId}.${mac(secret, userId).toString('base64url')}`
}

/** The user id the token proves, or null. The MAC is compared in constant time. [AUTH-2] */
export function verifyTestToken(secret: string, token: string): string | null {
  if (!token.startsWith(PREFIX)) return null
  const rest = token.slice(PREFIX.length)
  const dot = rest.lastIndexOf('.')
  if (dot <= 0) return null
  const userId = rest.slice(0, dot)
  const sig = rest.slice(dot + 1)
  if (!isUserId(userId) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return null
  const given = Buffer.from(sig, 'base64url')
  const want = mac(secret, userId)
  // base64url of 32 bytes is 43 chars, but the last char carries 2 spare bits:
  // re-encode so that only the canonical spelling is accepted.
  if (given.length !== want.length || given.toString('base64url') !== sig) return null
  return timingSafeEqual(given, want) ? userId : null
}
