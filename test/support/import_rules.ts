/**
 * The layout rule "product code never imports test code", as a checker:
 * lists every import (static, dynamic, `export … from`, `import type`) in
 * the product folders (`coordinator/`, `client/`, `bootstrap/`, `shared/`,
 * and `devnet/`, which the demo uses) whose target is under `test/`, either
 * through the `#test/*` import map or a relative path. Imports are read with
 * TypeScript's own pre-processor, so a comment or a string that merely
 * mentions `test/` does not count.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** Folders (relative to the repository root) whose files must not import `test/`. */
export const PRODUCT_FOLDERS: readonly string[] = ['coordinator', 'client', 'bootstrap', 'shared', 'devnet'];

/** One forbidden import. */
export interface TestImport {
  /** File, relative to the root, with `/` separators. */
  file: string;
  /** The import specifier as written. */
  specifier: string;
}

function* sourceFiles(dir: string): Generator<string> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') yield* sourceFiles(path);
    } else if (/\.(ts|tsx|mts|js|mjs)$/.test(e.name)) {
      yield path;
    }
  }
}

/** True when `specifier`, imported from `file`, points into `<root>/test/`. */
export function targetsTest(root: string, file: string, specifier: string): boolean {
  if (specifier === '#test' || specifier.startsWith('#test/')) return true;
  if (!specifier.startsWith('.')) return false;
  const target = relative(resolve(root), resolve(dirname(file), specifier));
  return target === 'test' || target.startsWith(`test${sep}`);
}

/** Every import of `test/` code in `folders` under `root` (see the module doc). */
export function findTestImports(root: string, folders: readonly string[] = PRODUCT_FOLDERS): TestImport[] {
  const found: TestImport[] = [];
  for (const folder of folders) {
    for (const file of sourceFiles(join(root, folder))) {
      const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      for (const ref of info.importedFiles) {
        if (targetsTest(root, file, ref.fileName)) {
          found.push({ file: relative(root, file).split(sep).join('/'), specifier: ref.fileName });
        }
      }
    }
  }
  return found;
}
