import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('project skeleton', () => {
  it('runs the test suite on Node 22 from the node devDependency', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(22);
  });
  it('is an ESM package with the #shared import map', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.type).toBe('module');
    expect(pkg.imports['#shared/*']).toBe('./shared/*');
  });
});
