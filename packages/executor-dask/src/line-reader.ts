/**
 * Splits a stream of text chunks into lines. A line of megabytes (a large
 * result) arrives in many chunks: they are kept in a list and joined once.
 */
export class LineReader {
  private parts: string[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let start = 0;
    for (let nl = chunk.indexOf("\n"); nl !== -1; nl = chunk.indexOf("\n", start)) {
      const piece = chunk.slice(start, nl);
      start = nl + 1;
      let line = piece;
      if (this.parts.length > 0) {
        this.parts.push(piece);
        line = this.parts.join("");
        this.parts = [];
      }
      if (line !== "") this.onLine(line);
    }
    if (start < chunk.length) this.parts.push(chunk.slice(start));
  }
}
