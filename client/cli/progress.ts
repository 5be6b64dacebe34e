/**
 * Progress output of the CLI where it waits (a Tx0's confirmations, a mix's
 * phases): on a terminal an animated spinner line redrawn in place, with the
 * elapsed time; elsewhere (pipes, CI, logs) one plain line per change of
 * state, never control characters. The mix command's per-UTXO bars are
 * cli-progress's; this module covers the single waits and the plain-line
 * fallback of the bars.
 *
 * @module
 */

/** Where progress goes (process.stderr, or a test double). */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** One wait in progress. */
export interface Spinner {
  /** New detail text (e.g. `0/1 confirmations`); a plain-line stream prints it only when it changed. */
  update(detail: string): void;
  /** Ends the wait with a final line. */
  done(message: string): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  stream: ProgressStream;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Redraw period of the spinner on a terminal, ms (default 120; 0 = redraw only on update). */
  frameMs?: number;
}

/** The spinner's frames. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** Formats an elapsed time as `12 s` or `3 min 05 s`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Progress output bound to one stream. */
export interface Progress {
  readonly tty: boolean;
  /** Starts a wait labelled `label`. */
  spinner(label: string): Spinner;
  /** One plain line. */
  line(text: string): void;
}

/** Creates the progress output for `opts.stream` (spinner on a TTY, plain lines otherwise). */
export function createProgress(opts: ProgressOptions): Progress {
  const tty = opts.stream.isTTY === true;
  const now = opts.now ?? Date.now;
  const out = opts.stream;
  return {
    tty,
    line(text) {
      out.write(`${text}\n`);
    },
    spinner(label) {
      const started = now();
      let detail = '';
      let printed: string | null = null;
      let frame = 0;
      const draw = () => {
        const f = SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length];
        out.write(`\r\x1b[2K${f} ${label}${detail ? `: ${detail}` : ''} (${formatElapsed(now() - started)})`);
      };
      const timer = tty && (opts.frameMs ?? 120) > 0 ? setInterval(draw, opts.frameMs ?? 120) : null;
      timer?.unref?.();
      if (tty) draw();
      return {
        update(next) {
          detail = next;
          if (tty) return draw();
          const text = `${label}: ${next}`;
          if (text !== printed) {
            out.write(`${text}\n`);
            printed = text;
          }
        },
        done(message) {
          if (timer) clearInterval(timer);
          const text = `${message} (${formatElapsed(now() - started)})`;
          out.write(tty ? `\r\x1b[2K✔ ${text}\n` : `${text}\n`);
        },
      };
    },
  };
}
