#!/usr/bin/env bash
# Restore an archive on a shared filesystem with a Slurm job array: task i of N runs
# `--shard i/N`, a deterministic share chosen by a hash of each file's path, so the
# tasks cover every file exactly once. Requeued or rerun tasks resume from their
# shard's journal in the output directory.
#
#   sbatch examples/slurm-array.sh
#   sbatch --array=1-64 --export=ALL,PIPELINE=/shared/pipelines/restore-animation.yaml \
#     examples/slurm-array.sh
#
# The array must be numbered 1-N (N shards; `%K` to run at most K at once is fine).
# Options given to sbatch override the #SBATCH lines below; sbatch runs a copy of this
# script, so it is configured through the environment, not by its own location:
#   PIPELINE    the pipeline file, on the shared filesystem
#   FRAMEFORGE  the frameforge binary (default: `frameforge` on the PATH)
# tests/it/slurm_array.rs submits this file unchanged to a one-node test cluster.
#
#SBATCH --job-name=frameforge
#SBATCH --array=1-16
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --requeue
#SBATCH --output=frameforge-%A_%a.log

set -uo pipefail
FRAMEFORGE="${FRAMEFORGE:-frameforge}"
PIPELINE="${PIPELINE:-/shared/pipelines/restore-film.yaml}"
status=0
"$FRAMEFORGE" run "$PIPELINE" \
  --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" \
  --threads "${SLURM_CPUS_PER_TASK:-1}" || status=$?
# 0 all done, 1 some files failed (listed in the log and report-I-of-N.json), 2 a usage
# or pipeline error, 75 another run holds this shard, 130 interrupted (a requeue
# resumes it). Any but 0 marks the task FAILED (sacct, scontrol show job).
exit $status
