/**
 * "Product code never imports test code": the repository has no such import,
 * and the checker does find one in a fixture tree (so the first check can
 * fail).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTestImports } from '#test/support/import_rules.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('product code never imports test/', () => {
  it('holds for coordinator/, client/, bootstrap/, shared/ and devnet/', () => {
    expect(findTestImports(ROOT)).toEqual([]);
  });

  describe('on a fixture tree', () => {
    let root: string;
    const files: Record<string, string> = {
      'coordinator/a.ts': "import { createTestDatabase } from '#test/support/db.ts';\n",
      'client/demo/b.ts': "import type { X } from '../../test/support/x.ts';\nexport type Y = X;\n",
      'bootstrap/c.ts': "export { y } from '../test/y.ts';\n",
      'shared/d.ts': "export async function f() { return import('#test/support/z.ts'); }\n",
      // not imports: a comment, a string, a path that only starts like test/
      'shared/ok.ts':
        "// see test/support/db.ts\nexport const s = 'import x from \"#test/x.ts\"';\nimport { t } from '../testing/t.ts';\nexport { t };\n",
      // test/ and bench/ may import test/
      'test/support/e.ts': "import { f } from './f.ts';\nexport { f };\n",
      'bench/g.ts': "import { h } from '#test/support/h.ts';\nexport { h };\n",
    };
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'wpt-imports-'));
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), text);
      }
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('reports every product import of test/ and nothing else', () => {
      const found = findTestImports(root).sort((a, b) => a.file.localeCompare(b.file));
      expect(found).toEqual([
        { file: 'bootstrap/c.ts', specifier: '../test/y.ts' },
        { file: 'client/demo/b.ts', specifier: '../../test/support/x.ts' },
        { file: 'coordinator/a.ts', specifier: '#test/support/db.ts' },
        { file: 'shared/d.ts', specifier: '#test/support/z.ts' },
      ]);
    });
  });
});
