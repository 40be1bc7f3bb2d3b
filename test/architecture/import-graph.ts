import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One import of one source file by another, as written in the importing file. */
export interface ImportEdge {
  /** Importing file, relative to the scanned root's parent (e.g. `src/core/syncs.ts`). */
  from: string;
  /** Imported file, relative to the same directory. */
  to: string;
  /** Line of the import in `from`, 1-based. */
  line: number;
  /** Whether the import is erased at run time (`import type`, `export type … from`, `import('…').T`). */
  typeOnly: boolean;
}

/** A relative import that names no file (a typo or a moved file would otherwise hide an edge). */
export interface UnresolvedImport {
  from: string;
  specifier: string;
  line: number;
}

export interface ImportGraph {
  /** Every `.ts` file found, relative to the base directory, sorted. */
  files: string[];
  edges: ImportEdge[];
  unresolved: UnresolvedImport[];
}

interface ModuleReference {
  specifier: string;
  line: number;
  typeOnly: boolean;
}

function listTypeScriptFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listTypeScriptFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) found.push(full);
  }
  return found;
}

/**
 * Every module a file refers to: static imports and re-exports (type-only or not), `import x =
 * require(…)`, dynamic `import(…)` with a literal specifier, and `import('…')` in type positions.
 */
function moduleReferences(fileName: string, text: string): ModuleReference[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const references: ModuleReference[] = [];
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return;
    const line = source.getLineAndCharacterOfPosition(specifier.getStart(source)).line + 1;
    references.push({ specifier: specifier.text, line, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      // `import { type A } from` is not type-only: under verbatimModuleSyntax it still loads the module.
      add(node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return references;
}

/** The file a relative specifier names, trying what Node and TypeScript's NodeNext resolution accept. */
function resolveRelative(fromFile: string, specifier: string, known: Set<string>): string | undefined {
  const target = path.resolve(path.dirname(fromFile), specifier);
  const candidates = [target, target.replace(/\.js$/, '.ts'), `${target}.ts`, path.join(target, 'index.ts')];
  const typescriptFile = candidates.find((candidate) => known.has(candidate));
  if (typescriptFile) return typescriptFile;
  // JSON documents and other resources are data, not modules with imports of their own.
  if (!target.endsWith('.ts') && fs.existsSync(target) && fs.statSync(target).isFile()) return target;
  return undefined;
}

/**
 * Reads every `.ts` file under `rootDir` and resolves its relative imports. Paths in the result are
 * relative to `rootDir`'s parent with `/` separators, so they read as `src/core/syncs.ts`. Imports of
 * packages and of resources other than TypeScript files are not edges.
 */
export function readImportGraph(rootDir: string): ImportGraph {
  const baseDir = path.dirname(path.resolve(rootDir));
  const display = (file: string) => path.relative(baseDir, file).split(path.sep).join('/');
  const absoluteFiles = listTypeScriptFiles(path.resolve(rootDir));
  const known = new Set(absoluteFiles);
  const edges: ImportEdge[] = [];
  const unresolved: UnresolvedImport[] = [];
  for (const file of absoluteFiles) {
    for (const reference of moduleReferences(file, fs.readFileSync(file, 'utf8'))) {
      if (!reference.specifier.startsWith('.')) continue;
      const resolved = resolveRelative(file, reference.specifier, known);
      if (resolved === undefined) {
        unresolved.push({ from: display(file), specifier: reference.specifier, line: reference.line });
      } else if (resolved.endsWith('.ts')) {
        edges.push({
          from: display(file),
          to: display(resolved),
          line: reference.line,
          typeOnly: reference.typeOnly,
        });
      }
    }
  }
  return { files: absoluteFiles.map(display).sort(), edges, unresolved };
}

/** `a → b → a`: a cycle given as the files on it, the first file repeated at the end. */
export const formatCycle = (cycle: string[]) => [...cycle, cycle[0]].join(' → ');

/**
 * The import cycles of a graph, enough of them that every import closing a circle is on one: for
 * each edge a → b inside a strongly connected component, the shortest path from b back to a. Each
 * cycle starts at its alphabetically first file, and duplicates are dropped, so the list is stable.
 * Type-only imports count: a circle of types still ties the files' designs together.
 */
export function findCycles(edges: Pick<ImportEdge, 'from' | 'to'>[]): string[][] {
  const targets = new Map<string, string[]>();
  for (const { from, to } of edges) {
    const list = targets.get(from) ?? [];
    if (!list.includes(to)) list.push(to);
    targets.set(from, list);
  }
  for (const list of targets.values()) list.sort();

  const cycles = new Map<string, string[]>();
  for (const from of [...targets.keys()].sort()) {
    for (const to of targets.get(from)!) {
      // A path to … from: the edge from → to closes it into a cycle.
      const cycle = shortestPath(targets, to, from);
      if (!cycle) continue;
      const start = cycle.indexOf([...cycle].sort()[0]!);
      const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
      cycles.set(rotated.join('\n'), rotated);
    }
  }
  return [...cycles.values()].sort((a, b) => a.length - b.length || a.join().localeCompare(b.join()));
}

/** The files on the shortest import path from `start` to `goal`, both included, or undefined. */
function shortestPath(targets: Map<string, string[]>, start: string, goal: string): string[] | undefined {
  const cameFrom = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (next === goal) {
      const pathBack: string[] = [];
      for (let at: string | undefined = goal; at !== undefined; at = cameFrom.get(at)) pathBack.unshift(at);
      return pathBack;
    }
    for (const target of targets.get(next) ?? []) {
      if (cameFrom.has(target)) continue;
      cameFrom.set(target, next);
      queue.push(target);
    }
  }
  return undefined;
}

/**
 * One layer of the architecture. A layer holds one or more groups (`src/db/**` and `src/net/**` sit
 * side by side); a file belongs to the first group, in layer order, whose pattern matches it.
 */
export interface Layer {
  name: string;
  groups: { name: string; matches: (file: string) => boolean }[];
}

/** An import from one group to a sibling group of the same layer that the design accepts, and why. */
export interface SiblingAllowance {
  from: string;
  to: string;
  /** When set, only these files of the `to` group may be imported. */
  onlyFiles?: string[];
  reason: string;
}

export interface Placement {
  layer: number;
  layerName: string;
  group: string;
}

/** The layer and group of a file, or undefined when no layer claims it. */
export function placeFile(layers: Layer[], file: string): Placement | undefined {
  for (const [index, layer] of layers.entries()) {
    const group = layer.groups.find((candidate) => candidate.matches(file));
    if (group) return { layer: index, layerName: layer.name, group: group.name };
  }
  return undefined;
}

export type Verdict =
  | { kind: 'allowed'; sibling?: SiblingAllowance }
  | { kind: 'upward' | 'sibling-not-allowed'; from: Placement; to: Placement }
  | { kind: 'unplaced'; file: string };

/**
 * Judges one import against the layers (listed top first): importing a lower layer or one's own
 * group is fine, importing a higher layer never is, and importing a sibling group of the same layer
 * only as an allowance describes.
 */
export function judgeImport(
  layers: Layer[],
  allowances: SiblingAllowance[],
  edge: Pick<ImportEdge, 'from' | 'to'>,
): Verdict {
  const from = placeFile(layers, edge.from);
  if (!from) return { kind: 'unplaced', file: edge.from };
  const to = placeFile(layers, edge.to);
  if (!to) return { kind: 'unplaced', file: edge.to };
  if (to.layer < from.layer) return { kind: 'upward', from, to };
  if (to.layer > from.layer || to.group === from.group) return { kind: 'allowed' };
  const sibling = allowances.find(
    (allowance) =>
      allowance.from === from.group &&
      allowance.to === to.group &&
      (allowance.onlyFiles === undefined || allowance.onlyFiles.includes(edge.to)),
  );
  return sibling ? { kind: 'allowed', sibling } : { kind: 'sibling-not-allowed', from, to };
}

/** `src/a.ts:3 → src/b.ts`: an import as a failure names it. */
export const formatImport = (edge: Pick<ImportEdge, 'from' | 'to' | 'line' | 'typeOnly'>) =>
  `${edge.from}:${edge.line} → ${edge.to}${edge.typeOnly ? ' (types only)' : ''}`;
