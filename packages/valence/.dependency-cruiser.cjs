// The layers of `valence` (docs/architecture.md), checked by dependency-cruiser on every
// import of the source, type-only and dynamic imports included. Run by the test suite
// (src/architecture.test.ts); by hand: `npx depcruise src` in packages/valence.
//
// Bottom to top; a layer imports only layers below it:
//   base         ids.ts errors.ts status.ts values.ts
//   codec        codec/
//   executor     executor/           executor contract, base classes, remote-runner plumbing
//   sdk          sdk/                electron, lattice, tracing, dispatch's door
//   task-runner  task-runner/        the program that runs tasks elsewhere
//   entry        index.ts            the package's public SDK entry (what task bundles carry)
//   engine       engine/             scheduler, store, bundler, runs, config, plugins
//   api          api/                the HTTP API's wire types
//   client       client/             where `dispatch` goes: the embedded engine or a server
//   server       server/
//   cli          cli/
// The one arrow up is the SDK's door to the engine: `sdk/api.ts` asks the process-global
// slot in sdk/engine-door.ts, which `client/dispatcher.ts` fills; index.ts loads that module
// with a literal dynamic import, which the bundler keeps out of task bundles.

/** Tests and test support may reach across layers (a test drives what it tests); nothing else may reach them. */
const TESTS = "\\.test\\.ts$|/test-support/";

const LAYERS = [
  ["base", "^src/(ids|errors|status|values)\\.ts$"],
  ["codec", "^src/codec/"],
  ["executor", "^src/executor/"],
  ["sdk", "^src/sdk/"],
  ["task-runner", "^src/task-runner/"],
  ["entry", "^src/index\\.ts$"],
  ["engine", "^src/engine/"],
  ["api", "^src/api/"],
  ["client", "^src/client/"],
  ["server", "^src/server/"],
  ["cli", "^src/cli/"],
];

/** A layer may not import any layer above it (the entry may load the client, and only lazily: see below). */
const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `layer-${name}`,
  comment: `${name} imports only the layers below it (docs/architecture.md): ${LAYERS.slice(0, i).map(([n]) => n).join(", ") || "nothing"}`,
  severity: "error",
  from: { path, pathNot: TESTS },
  to: {
    path: LAYERS.slice(i + 1).map(([, p]) => p).join("|"),
    ...(name === "entry" ? { pathNot: "^src/client/dispatcher\\.ts$" } : {}),
  },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import cycles, type imports included: move the shared piece down into a module of its own",
      severity: "error",
      from: { pathNot: TESTS },
      to: { circular: true },
    },
    ...upward,
    {
      name: "entry-loads-client-lazily",
      comment: "index.ts may reach the client only through a dynamic import, so importing the SDK never loads the engine",
      severity: "error",
      from: { path: "^src/index\\.ts$" },
      to: { path: "^src/client/", dependencyTypesNot: ["dynamic-import"] },
    },
    // One rule in two parts (a rule has one `from` and one `to`): SQLite may also be opened by
    // engine/locks, the Postgres client (pg and its pg-* family, their types too) only by engine/store.
    {
      name: "sql-only-in-the-store-driver",
      comment: "SQL lives in the store's drivers (engine/store) behind the Store interface; engine/locks uses SQLite only as a lock the kernel releases",
      severity: "error",
      from: { pathNot: `^src/engine/(store|locks)/|${TESTS}` },
      to: { path: "better-sqlite3" },
    },
    {
      name: "sql-only-in-the-store-driver",
      comment: "SQL lives in the store's drivers (engine/store) behind the Store interface; only the Postgres driver there talks to Postgres",
      severity: "error",
      from: { pathNot: `^src/engine/store/|${TESTS}` },
      to: { path: "node_modules/(@types/)?pg[-/]|^pg(-|$)" },
    },
    {
      name: "not-to-tests",
      comment: "code does not import tests or test support",
      severity: "error",
      // executor/testing.ts is the public "valence/executor/testing": the executor contract suite, for plugin authors.
      from: { pathNot: `${TESTS}|^src/executor/testing\\.ts$` },
      to: { path: TESTS },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^node_modules|^dist" },
    doNotFollow: { path: "node_modules" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
