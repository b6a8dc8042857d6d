/**
 * A progress bar on stderr for runs longer than a second: silent for short runs, redrawn in place
 * on a TTY, one line per 10 % otherwise (CI logs stay readable).
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let lastDecile = -1;
  let shown = false;
  return {
    update(done: number, total: number, extra = ''): void {
      const elapsed = performance.now() - started;
      if (elapsed < 1000 || total <= 0) return;
      const fraction = Math.min(1, done / total);
      const eta = fraction > 0 ? (elapsed / fraction - elapsed) / 1000 : 0;
      const text = `${label} ${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total} eta ${eta.toFixed(0)}s ${extra}`;
      if (stream.isTTY) {
        const width = 30;
        const filled = Math.round(fraction * width);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`.slice(0, stream.columns ?? 120));
        shown = true;
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          stream.write(`${text}\n`);
        }
      }
    },
    done(): void {
      if (shown && stream.isTTY) stream.write('\n');
    },
  };
}
