// Markdown pieces of the generated self-test READMEs (test/selftest/README.md,
// conformance/test/CLIENT-SELFTEST.md), formatted as biome formats them.

/** A Markdown table with padded columns; the first row is the header. */
export function table(rows: string[][]): string[] {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(rows[0] as string[]), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)]
}

/** A section listing ids with the reason each is there ("None." when empty). */
export function reasonsSection(title: string, reasons: Record<string, string>): string[] {
  const entries = Object.entries(reasons)
  const lines = [`## ${title} (${entries.length})`, '']
  if (entries.length === 0) lines.push('None.', '')
  for (const [id, why] of entries) lines.push(`- \`${id}\`: ${why}`)
  if (entries.length > 0) lines.push('')
  return lines
}
