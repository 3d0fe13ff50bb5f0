// Case-id globs: `*` any run of characters, `?` one character, whole-id match.
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`)
}

export function globMatch(glob: string, id: string): boolean {
  return globToRegExp(glob).test(id)
}
