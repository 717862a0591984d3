#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on this machine, for trying job scripts such as
# examples/slurm-array.sh (tests/it/slurm_array.rs runs it):
#
#   bash tools/slurm_cluster.sh start DIR   # prints the SLURM_CONF line to export
#   SLURM_CONF=DIR/slurm.conf sbatch …
#   bash tools/slurm_cluster.sh stop DIR
#
# Everything lives under DIR: slurm.conf (this host's name, CPUs and memory as
# `slurmd -C` sees them, free TCP ports), a fresh munge key and munged's socket, the
# controller's state, slurmd's spool, logs and pid files. Nothing system-wide is
# read or changed (clients find the cluster through SLURM_CONF), so several clusters
# can run side by side and a run leaves nothing behind for the next. munged, slurmctld
# and slurmd run as root in the background; `start` waits until the node is idle, and
# `stop` cancels the cluster's jobs and ends the daemons whose pid files are under DIR,
# nothing else. Needs root and Debian's slurm-wlm and munge (tools/setup.sh --tests).
set -euo pipefail
# The daemons live in sbin, which a non-login root shell may not have on its PATH.
PATH="$PATH:/usr/sbin:/sbin"

# How long `start` waits for the node to come up, and `stop` for a daemon to end.
START_TIMEOUT=${SLURM_CLUSTER_START_TIMEOUT:-60}
STOP_TIMEOUT=10

die() {
  echo "slurm_cluster: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
action=$1
case "$action" in
  start) mkdir -p "$2" ;;
  stop) [ -d "$2" ] || exit 0 ;; # nothing was started there
  *) usage ;;
esac
dir=$(cd "$2" && pwd -P)
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

# The pid of the daemon whose pid file is $1, if it is alive and still that daemon
# (named $2, started with an argument under this cluster's directory).
daemon_pid() {
  local file=$1 name=$2 pid
  [ -s "$file" ] || return 1
  pid=$(tr -dc 0-9 <"$file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qF "$dir/" || return 1
  echo "$pid"
}

# Whether process $1 still runs (a zombie waiting for its reaper does not).
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Ends the daemons given as PIDFILE:NAME, together: SIGTERM, then SIGKILL for any still
# running after STOP_TIMEOUT seconds; removes their pid files.
stop_daemons() {
  local spec pid i alive pids=()
  for spec in "$@"; do
    if pid=$(daemon_pid "${spec%:*}" "${spec##*:}"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
    alive=0
    for pid in ${pids[@]+"${pids[@]}"}; do
      running "$pid" && alive=1
    done
    [ "$alive" -eq 1 ] || break
    sleep 0.05
  done
  for pid in ${pids[@]+"${pids[@]}"}; do
    if running "$pid"; then
      echo "slurm_cluster: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) ignored SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for spec in "$@"; do
    rm -f "${spec%:*}"
  done
}

# A TCP port nobody listens on (read from /proc, so no tool is needed), not in "$@".
free_port() {
  local listening port i hex
  listening=$(awk 'FNR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r hex; do echo $((16#$hex)); done)
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 30000))
    grep -qx "$port" <<<"$listening" && continue
    [[ " $* " == *" $port "* ]] && continue
    echo "$port"
    return 0
  done
  die "no free TCP port found"
}

log_tails() {
  local log
  for log in "$dir"/log/munged.log "$dir"/log/slurmctld.log "$dir"/log/slurmd.log; do
    [ -f "$log" ] || continue
    echo "--- last lines of $log" >&2
    tail -n 25 "$log" >&2
  done
}

# The EXIT trap of `start`: after a failure, shows the logs and stops what did start.
failed_start() {
  [ "$1" -eq 0 ] && return
  log_tails
  stop >/dev/null 2>&1 || true
}

start() {
  [ "$(id -u)" -eq 0 ] || die "slurmctld and slurmd must run as root (this is uid $(id -u))"
  local tool
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null ||
      die "$tool is not installed: run \`bash tools/setup.sh --tests\` (Debian packages slurm-wlm, munge)"
  done
  if daemon_pid "$dir/run/slurmctld.pid" slurmctld >/dev/null ||
    daemon_pid "$dir/run/slurmd.pid" slurmd >/dev/null; then
    die "a cluster is already running in $dir (stop it first)"
  fi

  rm -rf "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
  # munged wants its socket's directory open to all (only root uses this cluster, so
  # the directories above it need not be: see --force below).
  chmod 0755 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$dir/munge/munge.key"

  # `NodeName=host CPUs=… Boards=… … RealMemory=…`: this host as slurmd sees it.
  local node node_name ctld_port slurmd_port
  node=$(slurmd -C | grep '^NodeName=') || die "slurmd -C failed"
  node_name=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$node")
  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")

  : >"$dir/plugstack.conf" # no SPANK plugins, whatever /etc/slurm holds
  cat >"$conf" <<EOF
# Generated by tools/slurm_cluster.sh: a one-node test cluster under $dir.
ClusterName=frameforge-test
SlurmctldHost=$node_name(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/plugstack.conf
# No cgroups, accounting database or MPI: what a container without systemd allows.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# A line per finished job (state, exit code), kept after scontrol forgets the job.
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
# Start jobs as soon as they are submitted or a CPU frees up (the default waits up to 3 s).
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# Finished jobs stay visible to scontrol for an hour.
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$node_name Default=YES MaxTime=INFINITE State=UP
EOF

  # Any failure from here on leaves nothing running.
  trap 'failed_start $?' EXIT

  # --force: run although the socket's parent directories (a private temporary
  # directory, say) are closed to other users.
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" ||
    die "munged did not start"
  local i
  for ((i = 0; i < 100; i++)); do
    [ -S "$dir/munge/munge.socket" ] && break
    sleep 0.1
  done
  [ -S "$dir/munge/munge.socket" ] || die "munged made no socket at $dir/munge/munge.socket"

  # -c: a clean start, no state from an earlier cluster.
  slurmctld -c -f "$conf" || die "slurmctld did not start"
  slurmd -N "$node_name" -f "$conf" || die "slurmd did not start"

  local state=""
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    state=$(sinfo -h -n "$node_name" -o %t 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    daemon_pid "$dir/run/slurmctld.pid" slurmctld >/dev/null || [ "$i" -lt 20 ] ||
      die "slurmctld exited"
    sleep 0.25
  done
  [ "$state" = "idle" ] ||
    die "node $node_name is not idle after ${START_TIMEOUT}s (sinfo says: ${state:-nothing})"
  trap - EXIT
  echo "export SLURM_CONF=$conf"
}

stop() {
  local i
  if daemon_pid "$dir/run/slurmctld.pid" slurmctld >/dev/null; then
    # Jobs first, so that no job step outlives its slurmd.
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u || true)
    # shellcheck disable=SC2086
    [ -z "$jobs" ] || scancel --full --quiet $jobs 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
  stop_daemons "$dir/run/slurmd.pid:slurmd" "$dir/run/slurmctld.pid:slurmctld"
  # munged last: the others authenticate through it until they are gone.
  stop_daemons "$dir/run/munged.pid:munged"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
