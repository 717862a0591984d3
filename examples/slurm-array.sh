#!/usr/bin/env bash
# Restore an archive on a shared filesystem with a Slurm job array: task i of N runs
# `--shard i/N`, a deterministic share chosen by a hash of each file's path, so the
# tasks cover every file exactly once. Requeued or rerun tasks resume from their
# shard's journal in the output directory.
#
#   sbatch examples/slurm-array.sh
#
#SBATCH --job-name=frameforge
#SBATCH --array=1-16
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=12:00:00
#SBATCH --requeue
#SBATCH --output=frameforge-%A_%a.log

set -uo pipefail
status=0
frameforge run /shared/pipelines/restore-film.yaml \
  --shard "${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}" \
  --threads "${SLURM_CPUS_PER_TASK}" || status=$?
# 0 all done, 1 some files failed (listed in the log and report.json), 75 another run
# holds this shard, 130 interrupted (a requeue resumes it).
exit $status
