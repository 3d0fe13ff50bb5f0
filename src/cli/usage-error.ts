/** A command line an imwire CLI cannot act on: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}
