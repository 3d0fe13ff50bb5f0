// The imwire package root (spec.md, vectors/, proto/, the bundled CLI), found
// from this module's own location, which is src/ under the sources and
// dist/src/ in the build or an installed package.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'imwire') return dir
      } catch {
        // not ours or unreadable: keep looking
      }
    }
    dir = dirname(dir)
  }
  throw new Error('cannot find the imwire package root')
}
