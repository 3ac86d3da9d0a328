// The executor packages (packages/executor-*) against valence: they see only `valence/executor`
// (the contract, base classes and remote-runner plumbing), never the engine, the server or the
// SDK's internals. Tests and test support may use the public `valence` too (they dispatch).
// Run from an executor package: `npx depcruise src --config ../valence/.dependency-cruiser-executors.cjs`.
module.exports = {
  forbidden: [
    {
      name: "executors-see-only-valence-executor",
      comment: "an executor package imports valence only as \"valence/executor\" (docs/architecture.md)",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$|/test-support/" },
      to: { path: "(^|/)valence/(dist|src)/", pathNot: "(^|/)valence/(dist|src)/executor/" },
    },
    {
      name: "no-circular",
      comment: "no import cycles, type imports included",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // Valence itself is checked by its own rules; here only what the package's code imports from it.
    doNotFollow: { path: "node_modules|(^|/)valence/(dist|src)/" },
    exclude: { path: "^dist|^python" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
