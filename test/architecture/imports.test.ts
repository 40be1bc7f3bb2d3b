import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findCycles,
  formatCycle,
  formatImport,
  type ImportGraph,
  type Layer,
  readImportGraph,
} from './import-graph.ts';
import { architectureProblems } from './layers.ts';

// The import graph of src has no circles and no arrow from a lower layer to a higher one
// (layers.ts lists the layers and the sibling imports the design accepts).

describe('the import graph of src', () => {
  const graph = readImportGraph(fileURLToPath(new URL('../../src', import.meta.url)));
  const problems = architectureProblems(graph);

  it('reads the source tree', () => {
    expect(graph.files).toContain('src/runtime.ts');
    expect(graph.edges.length).toBeGreaterThan(graph.files.length);
  });

  it('places every file in a layer', () => {
    expect(problems.unplaced, 'files no layer in test/architecture/layers.ts claims').toEqual([]);
  });

  it('resolves every relative import to a file', () => {
    expect(problems.unresolved).toEqual([]);
  });

  it('has no import cycles', () => {
    expect(problems.cycles, 'import cycles (type-only imports included)').toEqual([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    expect(problems.upward, 'imports that go up a layer').toEqual([]);
  });

  it('imports between siblings of a layer only where an allowance says why', () => {
    expect(problems.siblingsNotAllowed, 'sibling imports with no allowance in layers.ts').toEqual([]);
  });

  it('keeps no allowance that no import uses', () => {
    expect(problems.unusedAllowances, 'allowances to remove from layers.ts').toEqual([]);
  });
});

describe('the import checker', () => {
  it('reports each cycle as the path around it, once, from its first file', () => {
    const edges = [
      { from: 'b', to: 'c' },
      { from: 'a', to: 'b' },
      { from: 'c', to: 'a' },
      { from: 'c', to: 'd' },
      { from: 'd', to: 'c' },
      { from: 'e', to: 'a' },
    ];
    expect(findCycles(edges).map(formatCycle)).toEqual(['c → d → c', 'a → b → c → a']);
    expect(findCycles([{ from: 'a', to: 'b' }])).toEqual([]);
  });

  const layers: Layer[] = [
    { name: 'top', groups: [{ name: 'api', matches: (file) => file.startsWith('api/') }] },
    {
      name: 'bottom',
      groups: [
        { name: 'db', matches: (file) => file.startsWith('db/') },
        { name: 'net', matches: (file) => file.startsWith('net/') },
      ],
    },
  ];
  const graphOf = (edges: ImportGraph['edges']): ImportGraph => ({
    files: [...new Set(edges.flatMap((edge) => [edge.from, edge.to]))].sort(),
    edges,
    unresolved: [],
  });

  it('names an import that goes up a layer, file → file', () => {
    const problems = architectureProblems(
      graphOf([
        { from: 'api/routes.ts', to: 'db/pool.ts', line: 1, typeOnly: false },
        { from: 'db/pool.ts', to: 'api/routes.ts', line: 4, typeOnly: true },
      ]),
      layers,
      [],
    );
    expect(problems.upward).toEqual([
      'db/pool.ts:4 → api/routes.ts (types only): db (bottom) imports api (top), a higher layer',
    ]);
    expect(problems.cycles).toEqual(['api/routes.ts → db/pool.ts → api/routes.ts']);
  });

  it('lets siblings import each other only as an allowance describes', () => {
    const graph = graphOf([
      { from: 'db/pool.ts', to: 'net/types.ts', line: 2, typeOnly: true },
      { from: 'db/pool.ts', to: 'net/socket.ts', line: 3, typeOnly: false },
    ]);
    const allowance = { from: 'db', to: 'net', onlyFiles: ['net/types.ts'], reason: 'shared types' };
    expect(architectureProblems(graph, layers, [allowance]).siblingsNotAllowed).toEqual([
      'db/pool.ts:3 → net/socket.ts: db imports its sibling net (bottom)',
    ]);
    const unused = { from: 'net', to: 'db', reason: 'nothing' };
    expect(architectureProblems(graph, layers, [allowance, unused]).unusedAllowances).toEqual([
      'net → db: nothing',
    ]);
  });

  it('names files no layer claims', () => {
    const graph = graphOf([{ from: 'queue/jobs.ts', to: 'db/pool.ts', line: 1, typeOnly: false }]);
    expect(architectureProblems(graph, layers, []).unplaced).toEqual(['queue/jobs.ts']);
  });

  describe('reading sources', () => {
    let root: string;
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    };

    beforeAll(() => {
      root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'import-graph-')), 'src');
      write('a.ts', "import type { B } from './b.ts';\nexport type A = B;\n");
      write(
        'b.ts',
        "import { type A, type AlsoA } from './a.ts';\nexport type B = number;\nexport const load = () => import('./lib');\n",
      );
      write(
        'lib/index.ts',
        "export * from '../c.js';\nimport doc from '../doc.json' with { type: 'json' };\n",
      );
      write('c.ts', "export type FromA = import('./a.ts').A;\nimport { gone } from './missing.ts';\n");
      write('doc.json', '{}');
    });
    afterAll(() => fs.rmSync(path.dirname(root), { recursive: true, force: true }));

    it('follows import type, dynamic import(), re-exports and import types; reports unresolved ones', () => {
      const graph = readImportGraph(root);
      expect(graph.files).toEqual(['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/lib/index.ts']);
      expect(graph.edges.map(formatImport)).toEqual([
        'src/a.ts:1 → src/b.ts (types only)',
        'src/b.ts:1 → src/a.ts',
        'src/b.ts:3 → src/lib/index.ts',
        'src/c.ts:1 → src/a.ts (types only)',
        'src/lib/index.ts:1 → src/c.ts',
      ]);
      expect(graph.unresolved).toEqual([{ from: 'src/c.ts', specifier: './missing.ts', line: 2 }]);
    });
  });
});
