// pg-native ships no types; this is the part of its API the cluster store uses.
declare module 'pg-native' {
  class Client {
    constructor(opts?: { types?: unknown })
    connectSync(url: string): void
    connect(url: string, cb: (err: Error | null) => void): void
    querySync(text: string, params?: unknown[]): Record<string, unknown>[]
    query(text: string, params: unknown[], cb: (err: Error | null, rows: Record<string, unknown>[]) => void): void
    query(text: string, cb: (err: Error | null, rows: Record<string, unknown>[]) => void): void
    end(cb?: () => void): void
  }
  export default Client
}
