/** The CLI's tables: columns padded to their widest cell, two spaces apart, no space at a line's end. */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}
