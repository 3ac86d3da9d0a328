/** Errors of the Slurm executor: each names the command and what Slurm said. */
import { ValenceError } from "valence/executor";

/** sbatch refused a job (unknown option, partition, account…); `stderr` is sbatch's own message. */
export class SlurmSubmitError extends ValenceError {
  override readonly code = "SLURM_SUBMIT";
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/** A Slurm client command (squeue, scontrol, scancel) or a file operation on the cluster failed. */
export class SlurmCommandError extends ValenceError {
  override readonly code = "SLURM_COMMAND";
  constructor(
    message: string,
    readonly command: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
