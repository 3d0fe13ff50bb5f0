// Locating the package root (vectors, spec.md, the bundled server) from both
// the TypeScript sources (conformance/...) and the build (dist/conformance/...).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../../src/package-root.js'

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
