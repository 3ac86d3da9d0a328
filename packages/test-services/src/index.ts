// Real services on loopback for Valence's integration tests. Only what tests need is
// exported; process and port helpers stay internal.
export { ServiceStartError } from "./service-start-error.js";
export type { Component } from "./service-start-error.js";
export { ensureInstalled, packagesFor } from "./install.js";
export type { StartOptions } from "./start-options.js";
export { startSshd } from "./sshd.js";
export type { Sshd } from "./sshd.js";
export { startSlurm } from "./slurm.js";
export type { Slurm } from "./slurm.js";
export { startDask } from "./dask.js";
export type { Dask } from "./dask.js";
export { startPostgres } from "./postgres.js";
export { startS3 } from "./s3.js";
export type { S3Server } from "./s3.js";
export type { Postgres } from "./postgres.js";
// Zombie-aware liveness for tests that check a killed process is gone.
export { isAlive } from "./processes.js";
