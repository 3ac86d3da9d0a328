/**
 * Where the worker entry is and which node flags it gets.
 */
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWorkerMain } from "./worker-build.js";

/**
 * The worker entry to fork: `worker-main.js` next to this module when running
 * from `dist/`; from source (this module is `.ts`), `worker-main.ts` built
 * into one plain module (see `worker-build.ts`).
 */
export function workerMainPath(): string {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const source = join(dirname(here), `worker-main${ext}`);
  return isTypeScript(source) ? buildWorkerMain(source) : source;
}

function isTypeScript(path: string): boolean {
  return /\.[cm]?tsx?$/.test(path);
}

/**
 * The parent's node flags minus those that must not be repeated in every
 * worker: debugger ports (they would collide), test-runner and watch flags,
 * and tsx when the worker is plain JavaScript (it would slow start-up and
 * rewrite the source maps of the bundles the worker loads).
 */
export function workerExecArgv(workerPath: string, execArgv: readonly string[] = process.execArgv): string[] {
  const needsTsx = isTypeScript(workerPath);
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i] as string;
    const next = execArgv[i + 1];
    // A flag written as two tokens ("--test-reporter spec") takes its value along when dropped.
    const takesNext = !flag.includes("=") && next !== undefined && !next.startsWith("-");
    if (/^--(inspect|debug|test|watch)(-|=|$)/.test(flag)) {
      if (takesNext) i++;
      continue;
    }
    if (!needsTsx) {
      const [name, value] = flag.includes("=") ? flag.split("=", 2) : [flag, next];
      if (/^(--import|--loader|--experimental-loader|--require|-r)$/.test(name ?? "") && isTsx(value)) {
        if (!flag.includes("=")) i++;
        continue;
      }
    }
    out.push(flag);
  }
  return out;
}

function isTsx(spec: string | undefined): boolean {
  return spec !== undefined && (spec === "tsx" || spec.startsWith("tsx/") || /[\\/]node_modules[\\/]tsx[\\/]/.test(spec));
}
