import {
  findCycles,
  formatCycle,
  formatImport,
  type ImportGraph,
  judgeImport,
  type Layer,
  placeFile,
  type SiblingAllowance,
} from './import-graph.ts';

const under = (folder: string) => (file: string) => file.startsWith(folder);
const LEAF_FILES = ['src/config.ts', 'src/logger.ts', 'src/metrics.ts'];
const isTopLevelFile = (file: string) => /^src\/[^/]+\.ts$/.test(file);

/**
 * The layers of `src`, top first. A file may import its own group and any lower layer; never a
 * higher one. Top-level files other than the leaf utilities are the composition root (runtime.ts
 * today), which wires every layer together.
 */
export const LAYERS: Layer[] = [
  {
    name: 'entry points',
    groups: [
      { name: 'cli', matches: under('src/cli/') },
      { name: 'composition root', matches: (file) => isTopLevelFile(file) && !LEAF_FILES.includes(file) },
    ],
  },
  { name: 'surfaces', groups: [{ name: 'api', matches: under('src/api/') }] },
  { name: 'engine', groups: [{ name: 'engine', matches: under('src/engine/') }] },
  { name: 'core', groups: [{ name: 'core', matches: under('src/core/') }] },
  {
    name: 'providers, auth and destinations',
    groups: [
      { name: 'destinations', matches: under('src/destinations/') },
      { name: 'connectors', matches: under('src/connectors/') },
      { name: 'auth', matches: under('src/auth/') },
    ],
  },
  {
    name: 'infrastructure',
    groups: [
      { name: 'db', matches: under('src/db/') },
      { name: 'net', matches: under('src/net/') },
    ],
  },
  {
    name: 'leaf utilities',
    groups: [
      { name: 'config', matches: (file) => file === 'src/config.ts' },
      { name: 'logger', matches: (file) => file === 'src/logger.ts' },
      { name: 'metrics', matches: (file) => file === 'src/metrics.ts' },
    ],
  },
  // Pure helpers with no state, shared by configuration and the layers above it.
  { name: 'helpers', groups: [{ name: 'util', matches: under('src/util/') }] },
];

/**
 * Imports between sibling groups of one layer that the design accepts. Anything else between
 * siblings fails, so each new one is a decision written down here.
 */
export const SIBLING_ALLOWANCES: SiblingAllowance[] = [
  {
    from: 'cli',
    to: 'composition root',
    reason: 'the command line starts and opens what runtime.ts composes',
  },
  {
    from: 'auth',
    to: 'connectors',
    onlyFiles: ['src/connectors/http.ts'],
    reason:
      "connection auth implements the provider HTTP client's Authenticator contract and reports its ConnectorError; no provider's own code",
  },
  {
    from: 'destinations',
    to: 'connectors',
    onlyFiles: ['src/connectors/types.ts'],
    reason: 'a destination writes the ProviderRecord shape that connectors read; types only',
  },
];

export interface ArchitectureProblems {
  /** Files no layer claims: a new folder must be placed before it is used. */
  unplaced: string[];
  unresolved: string[];
  cycles: string[];
  upward: string[];
  siblingsNotAllowed: string[];
  /** Allowances no import uses any more: each one left would let a new import through unexamined. */
  unusedAllowances: string[];
}

/** Everything in the graph that breaks the layers or closes a circle, each as a readable line. */
export function architectureProblems(
  graph: ImportGraph,
  layers: Layer[] = LAYERS,
  allowances: SiblingAllowance[] = SIBLING_ALLOWANCES,
): ArchitectureProblems {
  const problems: ArchitectureProblems = {
    unplaced: graph.files.filter((file) => placeFile(layers, file) === undefined),
    unresolved: graph.unresolved.map(
      (u) => `${u.from}:${u.line} imports '${u.specifier}', which names no file`,
    ),
    cycles: findCycles(graph.edges).map(formatCycle),
    upward: [],
    siblingsNotAllowed: [],
    unusedAllowances: [],
  };
  const used = new Set<SiblingAllowance>();
  for (const edge of graph.edges) {
    const verdict = judgeImport(layers, allowances, edge);
    if (verdict.kind === 'allowed') {
      if (verdict.sibling) used.add(verdict.sibling);
    } else if (verdict.kind === 'upward') {
      problems.upward.push(
        `${formatImport(edge)}: ${verdict.from.group} (${verdict.from.layerName}) imports ${verdict.to.group} (${verdict.to.layerName}), a higher layer`,
      );
    } else if (verdict.kind === 'sibling-not-allowed') {
      problems.siblingsNotAllowed.push(
        `${formatImport(edge)}: ${verdict.from.group} imports its sibling ${verdict.to.group} (${verdict.from.layerName})`,
      );
    }
  }
  problems.unusedAllowances = allowances
    .filter((allowance) => !used.has(allowance))
    .map((allowance) => `${allowance.from} → ${allowance.to}: ${allowance.reason}`);
  return problems;
}
