// Locating the package root (vectors, spec.md, the bundled server) from both
// the TypeScript sources (conformance/...) and the build (dist/conformance/...).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'imwire') return dir
      } catch {
        // keep looking
      }
    }
    dir = dirname(dir)
  }
  throw new Error('cannot find the imwire package root')
}

export function kitVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
}

export interface KitPaths {
  root: string
  vectorsDir: string
  codecVectorsDir: string
  specPath: string
  schemaPath: string
  reportSchemaPath: string
  bundledCli: string
}

export function kitPaths(overrides: { vectorsDir?: string; specPath?: string } = {}): KitPaths {
  const root = packageRoot()
  return {
    root,
    vectorsDir: overrides.vectorsDir ?? join(root, 'vectors', 'session'),
    codecVectorsDir: join(root, 'vectors', 'codec'),
    specPath: overrides.specPath ?? join(root, 'spec.md'),
    schemaPath: join(root, 'vectors', 'schema', 'session.schema.json'),
    reportSchemaPath: join(root, 'vectors', 'schema', 'report.schema.json'),
    bundledCli: join(root, 'dist', 'src', 'cli', 'main.js'),
  }
}
