/**
 * The layer rules (README "How it is built"), checked by `npm run lint`. Imports flow one way:
 *
 *   kernel      pipelines/ (model, ports, errors, settings kit, instruments, jsonl-log, stage runner)
 *               and secrets/redact.ts (the one redaction rule)
 *   runtime     runtime/ (the real clock and timers): beside the kernel, importing only the kernel;
 *               every room may import it, the kernel, the stages and the composition root may not
 *   stages      operators/, strategies/ (what the pipeline is made of)
 *   composition pipelines/build-pipeline.ts, pipelines/settings.ts, pipelines/load-settings.ts:
 *               the pipeline and the root settings schema composed from every `*.settings.ts`
 *   rooms       agents/ < backtests/ < research/, archive/, live/, dashboard/ ; simulator/ alone;
 *               backtests/data/ (market data loaders) is readable from every room
 *   top         bin/, soak/, bench/, deploy/, test/ (may import anything; nothing imports them)
 *
 * A settings fragment (`*.settings.ts`) is a declaration: it imports no room code, so the root
 * schema composing fragments from every room pulls no room into the kernel.
 */
const ROOMS = '^(agents|backtests|research|simulator|live|dashboard|archive|secrets/index)';
const TOP = '^(bin|soak|bench|deploy|test)/';
const COMPOSITION = '^pipelines/(build-pipeline|settings|load-settings)[.]ts$';
const FRAGMENT = '[.]settings[.]ts$';
/** the real clock and timers: the pipeline has no wall clock */
const RUNTIME = '^runtime/';

/** a room and the rooms it must not import */
const roomRule = (name, from, forbidden) => ({
  name,
  severity: 'error',
  comment: `${from} must not import ${forbidden} (layer rules, README "How it is built")`,
  from: { path: `^${from}/` },
  to: { path: `^(${forbidden})/`, pathNot: '^backtests/data/' },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'a cycle ties modules into one unit: move the shared part one layer down',
      from: {},
      to: { circular: true },
    },
    {
      name: 'kernel-imports-only-kernel',
      severity: 'error',
      comment: 'pipelines/ (except the composition root) and secrets/redact.ts are the bottom layer',
      from: { path: '^pipelines/|^secrets/redact[.]ts$', pathNot: COMPOSITION },
      to: { path: `${ROOMS}|${TOP}|${RUNTIME}|^(operators|strategies)/`, pathNot: '^secrets/redact[.]ts$' },
    },
    {
      name: 'runtime-imports-only-kernel',
      severity: 'error',
      comment: 'runtime/ (the real clock and timers) sits beside the kernel: it imports nothing above it',
      from: { path: RUNTIME },
      to: { path: `${ROOMS}|${TOP}|${COMPOSITION}|^(operators|strategies)/` },
    },
    {
      name: 'composition-imports-no-room-code',
      severity: 'error',
      comment: 'the composition root builds from the kernel, the stages and the settings fragments only',
      from: { path: COMPOSITION },
      to: { path: `${ROOMS}|${TOP}|${RUNTIME}`, pathNot: FRAGMENT },
    },
    {
      name: 'stages-import-no-room',
      severity: 'error',
      comment:
        "operators/ and strategies/ sit under every room; strategies/kit/testing.ts is the researchers' test harness, a room of its own",
      from: { path: '^(operators|strategies)/', pathNot: '^strategies/kit/testing[.]ts$' },
      to: { path: `${ROOMS}|${TOP}|${COMPOSITION}|${RUNTIME}` },
    },
    {
      name: 'fragments-are-declarations',
      severity: 'error',
      comment: 'a *.settings.ts fragment imports no room code (the root schema composes them all)',
      from: { path: FRAGMENT },
      to: { path: `${ROOMS}|${TOP}|${COMPOSITION}|${RUNTIME}`, pathNot: FRAGMENT },
    },
    {
      name: 'market-data-below-rooms',
      severity: 'error',
      comment: 'backtests/data/ loads market data for every room: it imports only the kernel and the stages',
      from: { path: '^backtests/data/' },
      to: { path: `${ROOMS}|${TOP}`, pathNot: '^backtests/data/' },
    },
    roomRule('agents-below-backtests', 'agents', 'backtests|research|simulator|live|dashboard|archive'),
    roomRule('backtests-below-research-live', 'backtests', 'research|simulator|live|dashboard|archive'),
    roomRule('simulator-stands-alone', 'simulator', 'agents|backtests|research|live|dashboard|archive'),
    roomRule('live-not-simulator-nor-dashboard', 'live', 'simulator|dashboard|research|archive'),
    roomRule('dashboard-not-live', 'dashboard', 'live|simulator|research|archive|agents'),
    roomRule('research-not-live', 'research', 'live|simulator|dashboard|archive'),
    roomRule('archive-not-live', 'archive', 'live|simulator|dashboard|research'),
    roomRule('secrets-below-rooms', 'secrets', 'agents|backtests|research|simulator|live|dashboard|archive'),
    {
      name: 'nothing-imports-the-top',
      severity: 'error',
      comment: 'bin/, soak/, bench/, deploy/ and test/ are entry points: no layer below imports them',
      from: { pathNot: TOP },
      to: { path: TOP },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'an import that resolves to nothing',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dashboard/public|out|coverage|reports)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
