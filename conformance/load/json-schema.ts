// The one way the kit reads its JSON Schemas (vectors/schema/*.schema.json):
// draft 2020-12, every error reported, strict about the schema itself so a
// typo in a keyword is an error rather than a silently ignored constraint.
// Used by the vector loader, `imwire vectors lint` and the report tests.
import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'

export function newAjv(): Ajv2020 {
  // strictRequired off: the schemas use `required` inside `oneOf`/`not`
  // branches to say which properties go together (e.g. `hex` or `frames`),
  // naming properties the branch itself does not define.
  return new Ajv2020({ allErrors: true, strict: true, strictRequired: false })
}

/** Compiles the schema file at `path` with its own Ajv instance. */
export function compileSchemaFile(path: string, ajv: Ajv2020 = newAjv()): ValidateFunction {
  return ajv.compile(JSON.parse(readFileSync(path, 'utf8')))
}
