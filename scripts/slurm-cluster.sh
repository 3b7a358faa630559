#!/usr/bin/env bash
# Single-node SLURM cluster (slurmctld + slurmd + slurmdbd/MariaDB accounting + munge) for
# tests, on Debian 12 as root and without systemd.  See scripts/README-slurm.md.
#
#   scripts/slurm-cluster.sh install            # apt packages (idempotent)
#   scripts/slurm-cluster.sh up     [STATE_DIR] # configure + start, wait for an idle node
#   eval "$(scripts/slurm-cluster.sh env [STATE_DIR])"
#   scripts/slurm-cluster.sh status [STATE_DIR]
#   scripts/slurm-cluster.sh down   [STATE_DIR] # stop every daemon by PID
#
# STATE_DIR defaults to $REPRO_SLURM_STATE_DIR, else /tmp/repro-slurm.
# Ports (override through the environment before `up`): REPRO_SLURM_MYSQL_PORT (3307),
# REPRO_SLURM_CTLD_PORT (6817), REPRO_SLURM_SLURMD_PORT (6818), REPRO_SLURM_DBD_PORT (6819).
set -euo pipefail

PACKAGES=(slurm-wlm slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
CLUSTER=repro
ACCOUNT=repro
PARTITION=debug
MYSQL_PORT=${REPRO_SLURM_MYSQL_PORT:-3307}
CTLD_PORT=${REPRO_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${REPRO_SLURM_SLURMD_PORT:-6818}
DBD_PORT=${REPRO_SLURM_DBD_PORT:-6819}
UP_TIMEOUT=${REPRO_SLURM_UP_TIMEOUT:-60}
# Daemons in start order; `down` stops them in reverse order.
DAEMONS=(mariadbd munged slurmdbd slurmctld slurmd)
MARKER=.repro-slurm-state
STARTED=()  # daemons started by this invocation of `up`

log() { echo "[slurm-cluster] [${SECONDS}s] $*" >&2; }
die() { echo "[slurm-cluster] ERROR: $*" >&2; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

set_paths() {
    STATE_DIR=${1:-${REPRO_SLURM_STATE_DIR:-/tmp/repro-slurm}}
    case "$STATE_DIR" in /*) ;; *) STATE_DIR="$PWD/$STATE_DIR" ;; esac
    STATE_DIR=${STATE_DIR%/}
    [[ -n "$STATE_DIR" && "$STATE_DIR" != / ]] || die "refusing STATE_DIR='/'"
    ETC=$STATE_DIR/etc
    LOGS=$STATE_DIR/log
    PIDS=$STATE_DIR/pids
    MUNGE_DIR=$STATE_DIR/munge
    MUNGE_SOCKET=$MUNGE_DIR/munge.socket
    DB_DIR=$STATE_DIR/mysql
    DB_SOCKET=$DB_DIR/run/mysqld.sock
    SLURM_CONF_FILE=$ETC/slurm.conf
    NODE=$(hostname -s)
}

# ----------------------------------------------------------------------------- install
pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

cmd_install() {
    need_root
    local missing=() p
    for p in "${PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    log "installing: ${missing[*]}"
    local prc=/usr/sbin/policy-rc.d backup=""
    if [[ -e $prc ]]; then backup=$(mktemp); cp -p "$prc" "$backup"; fi
    # shellcheck disable=SC2064
    trap "rm -f '$prc'; [[ -n '$backup' ]] && mv '$backup' '$prc' || true" EXIT
    printf '#!/bin/sh\n# temporary (scripts/slurm-cluster.sh install): start no services\nexit 101\n' >"$prc"
    chmod 755 "$prc"
    # DPkg::Lock::Timeout: wait for a concurrent apt/dpkg instead of failing at once
    local apt=(apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900
               -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}"; then
        log "install failed; running apt-get update and retrying"
        DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=900
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}"
    fi
    rm -f "$prc"
    if [[ -n $backup ]]; then mv "$backup" "$prc"; fi
    trap - EXIT
    for p in "${PACKAGES[@]}"; do pkg_installed "$p" || die "package $p is still not installed"; done
    log "installed: ${missing[*]}"
}

# ----------------------------------------------------------------------------- pids
# STATE_DIR/pids holds lines "name pid"; a pid counts only while /proc/<pid>/comm == name.
pid_of() { [[ -f $PIDS ]] && awk -v n="$1" '$1 == n {print $2}' "$PIDS" | tail -n1; }
alive() {  # alive NAME PID
    [[ -n ${2:-} && -r /proc/$2/comm ]] || return 1
    [[ $(cat "/proc/$2/comm" 2>/dev/null) == "$1"* ]]
}
daemon_alive() { alive "$1" "$(pid_of "$1")"; }

start_daemon() {  # start_daemon NAME CMD...  (CMD runs in the foreground, in its own session)
    local name=$1; shift
    setsid "$@" </dev/null >>"$LOGS/$name.out" 2>&1 &
    local pid=$!
    echo "$name $pid" >>"$PIDS"
    STARTED+=("$name")
    sleep 0.2
    alive "$name" "$pid" || { sleep 0.5; alive "$name" "$pid"; } ||
        fail_up "$name (pid $pid) exited right after start"
    log "started $name (pid $pid)"
}

show_logs() {
    local f
    for f in "$LOGS"/*; do
        [[ -s $f ]] || continue
        echo "----- tail $f" >&2
        tail -n 25 "$f" >&2
    done
}

fail_up() {
    echo "[slurm-cluster] ERROR: $*" >&2
    show_logs
    echo "[slurm-cluster] stopping what was started (scripts/slurm-cluster.sh down)" >&2
    stop_all || true
    exit 1
}

wait_for() {  # wait_for DESCRIPTION TIMEOUT_S CMD...
    local what=$1 timeout=$2; shift 2
    local t0=$SECONDS
    until "$@" >/dev/null 2>&1; do
        ((SECONDS - t0 < timeout)) || fail_up "timed out after ${timeout}s waiting for $what"
        local d
        for d in "${STARTED[@]}"; do
            daemon_alive "$d" || fail_up "$d died while waiting for $what"
        done
        sleep 0.5
    done
}

# ----------------------------------------------------------------------------- config
write_configs() {
    local ncpu memkb realmem dbpass
    ncpu=$(nproc)
    memkb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    realmem=$((memkb * 8 / 10 / 1024))
    dbpass=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    echo "$dbpass" >"$ETC/dbpass"; chmod 600 "$ETC/dbpass"

    cat >"$SLURM_CONF_FILE" <<EOF
# generated by scripts/slurm-cluster.sh -- single-node test cluster
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
MaxArraySize=1001
MaxJobCount=20000
MinJobAge=300
KillWait=10
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$MUNGE_SOCKET
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$realmem State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

    cat >"$ETC/slurmdbd.conf" <<EOF
# generated by scripts/slurm-cluster.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$LOGS/slurmdbd.log
PidFile=$STATE_DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=$dbpass
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$ETC/slurmdbd.conf"
}

# ----------------------------------------------------------------------------- up
all_up() {
    [[ -f $PIDS ]] || return 1
    local d
    for d in "${DAEMONS[@]}"; do daemon_alive "$d" || return 1; done
}

node_idle() { [[ $(sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null) == idle ]]; }
mysql_q() { mariadb --no-defaults --protocol=socket --socket="$DB_SOCKET" -u root -N -B -e "$1"; }

fresh_state_dir() {
    if [[ -e $STATE_DIR ]]; then
        if [[ -n $(ls -A "$STATE_DIR") && ! -e $STATE_DIR/$MARKER ]]; then
            die "$STATE_DIR exists, is not empty and was not created by this script; refusing to wipe it"
        fi
        rm -rf --one-file-system "$STATE_DIR"
    fi
    mkdir -p "$STATE_DIR"
    chmod 755 "$STATE_DIR"
    touch "$STATE_DIR/$MARKER"
    mkdir -p "$ETC" "$LOGS" "$STATE_DIR/run" "$STATE_DIR/ctld" "$STATE_DIR/slurmd" \
        "$MUNGE_DIR" "$DB_DIR/data" "$DB_DIR/run"
    chmod 755 "$ETC" "$LOGS" "$STATE_DIR/run"
    chmod 700 "$STATE_DIR/ctld" "$STATE_DIR/slurmd"
    : >"$PIDS"
}

cmd_up() {
    need_root
    local t0=$SECONDS b
    for b in slurmctld slurmd slurmdbd munged mariadbd mariadb-install-db sinfo sacctmgr setpriv; do
        command -v "$b" >/dev/null || die "'$b' not found: run '$0 install' first"
    done
    if all_up; then
        export SLURM_CONF=$SLURM_CONF_FILE
        if node_idle || sinfo -h >/dev/null 2>&1; then
            log "already up ($STATE_DIR); nothing to do"
            return 0
        fi
    fi
    if [[ -f $PIDS ]]; then
        log "found a partial/stale cluster in $STATE_DIR: stopping it first"
        stop_all
    fi
    fresh_state_dir
    write_configs
    export SLURM_CONF=$SLURM_CONF_FILE

    # --- MariaDB: private datadir, socket and port
    id mysql >/dev/null 2>&1 || die "user mysql missing (mariadb-server not installed?)"
    chown -R mysql:mysql "$DB_DIR"
    chmod 755 "$DB_DIR" "$DB_DIR/run"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DIR/data" \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$LOGS/mariadb-install-db.out" 2>&1 || fail_up "mariadb-install-db failed"
    start_daemon mariadbd mariadbd --no-defaults --user=mysql --datadir="$DB_DIR/data" \
        --socket="$DB_SOCKET" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
        --pid-file="$DB_DIR/run/mysqld.pid" --log-error="$LOGS/mariadb.log" \
        --skip-name-resolve --innodb-buffer-pool-size=128M --innodb-log-file-size=64M \
        --innodb-lock-wait-timeout=900 --max-connections=100
    wait_for "MariaDB on $DB_SOCKET" "$UP_TIMEOUT" mysql_q "SELECT 1"
    local dbpass; dbpass=$(cat "$ETC/dbpass")
    mysql_q "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass';
             CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$dbpass';
             GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
             GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
             FLUSH PRIVILEGES;" || fail_up "could not create the MariaDB user for slurmdbd"

    # --- munge: private key and socket, run as the munge user
    id munge >/dev/null 2>&1 || die "user munge missing (munge not installed?)"
    head -c 1024 /dev/urandom >"$MUNGE_DIR/munge.key"
    chown -R munge:munge "$MUNGE_DIR"
    chmod 755 "$MUNGE_DIR"
    chmod 400 "$MUNGE_DIR/munge.key"
    start_daemon munged setpriv --reuid=munge --regid=munge --clear-groups \
        munged -F --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed"
    ln -sf "$MUNGE_DIR/munged.log" "$LOGS/munged.log"
    wait_for "munged socket" "$UP_TIMEOUT" bash -c "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'"

    # --- slurmdbd, then register cluster/account/user before slurmctld starts
    start_daemon slurmdbd env SLURM_CONF="$SLURM_CONF_FILE" slurmdbd -D  # reads slurmdbd.conf next to SLURM_CONF
    wait_for "slurmdbd (sacctmgr list cluster)" "$UP_TIMEOUT" sacctmgr -n -P list cluster
    if [[ -z $(sacctmgr -n -P list cluster where name="$CLUSTER" format=cluster) ]]; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null || fail_up "sacctmgr add cluster failed"
    fi
    if [[ -z $(sacctmgr -n -P list account where name="$ACCOUNT" format=account) ]]; then
        sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description=repro organization=repro \
            >/dev/null || fail_up "sacctmgr add account failed"
    fi
    if [[ -z $(sacctmgr -n -P list association where user=root account="$ACCOUNT" cluster="$CLUSTER" format=user) ]]; then
        sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null ||
            fail_up "sacctmgr add user failed"
    fi

    # --- slurmctld + slurmd
    start_daemon slurmctld env SLURM_CONF="$SLURM_CONF_FILE" slurmctld -D -i -f "$SLURM_CONF_FILE"
    wait_for "slurmctld (scontrol ping)" "$UP_TIMEOUT" bash -c "scontrol ping | grep -q UP"
    start_daemon slurmd env SLURM_CONF="$SLURM_CONF_FILE" slurmd -D -N "$NODE" -f "$SLURM_CONF_FILE"
    wait_for "node $NODE idle in sinfo" "$UP_TIMEOUT" node_idle
    wait_for "sacct" "$UP_TIMEOUT" sacct -n -X -a
    all_up || fail_up "a daemon died during start-up"
    log "up in $((SECONDS - t0)) s: partition '$PARTITION' on node $NODE ($(nproc) CPUs)."
    log "now run: eval \"\$($0 env $STATE_DIR)\""
}

# ----------------------------------------------------------------------------- down
descendants() {  # all descendants of the given pids
    local out=() p
    local -a queue=("$@")
    while [[ ${#queue[@]} -gt 0 ]]; do
        p=${queue[0]}; queue=("${queue[@]:1}")
        local kids
        kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
        for k in $kids; do out+=("$k"); queue+=("$k"); done
    done
    echo "${out[@]:-}"
}

# slurmstepd processes of this cluster (and their job processes): they detach from slurmd,
# so find them by the SLURM_CONF in their environment (inherited from our slurmd).
stray_steps() {
    local p
    for p in $(pgrep -x slurmstepd 2>/dev/null || true); do
        if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF_FILE"; then
            echo "$p"
        fi
    done
}

kill_pids() {  # kill_pids PID... : TERM, wait up to 10 s, then KILL
    [[ $# -gt 0 ]] || return 0
    kill -TERM "$@" 2>/dev/null || true
    local i p left
    for i in $(seq 1 20); do
        left=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && left=1; done
        [[ $left -eq 0 ]] && return 0
        sleep 0.5
    done
    kill -KILL "$@" 2>/dev/null || true
}

stop_all() {
    [[ -f $PIDS ]] || return 0
    export SLURM_CONF=$SLURM_CONF_FILE
    # cancel jobs first so slurmd cleans up its steps
    if daemon_alive slurmctld; then
        local jobs
        jobs=$(timeout 10 squeue -h -o %A 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            local i
            for i in $(seq 1 20); do
                [[ -z $(timeout 10 squeue -h -o %A 2>/dev/null || true) ]] && break
                sleep 0.5
            done
        fi
    fi
    local steps
    steps=$(stray_steps)
    # stop in groups, reverse start order: slurmctld flushes to slurmdbd (needs munge + MariaDB)
    local group d pid
    for group in "slurmd slurmctld" "slurmdbd" "munged mariadbd"; do
        local pids=() names=()
        for d in $group; do
            pid=$(pid_of "$d" || true)
            if alive "$d" "$pid"; then pids+=("$pid"); names+=("$d($pid)"); fi
        done
        [[ ${#pids[@]} -gt 0 ]] || continue
        log "stopping ${names[*]}"
        kill_pids "${pids[@]}"
        for d in $group; do
            pid=$(pid_of "$d" || true)
            if alive "$d" "$pid"; then log "WARNING: $d (pid $pid) still alive"; fi
        done
    done
    # leftover slurmstepd processes and everything below them
    steps="$steps $(stray_steps)"
    steps=$(echo "$steps" | tr ' ' '\n' | sort -u | xargs || true)
    if [[ -n ${steps// /} ]]; then
        local all
        # shellcheck disable=SC2086
        all="$steps $(descendants $steps)"
        log "killing leftover job steps: $all"
        # shellcheck disable=SC2086
        kill_pids $all
    fi
    rm -f "$PIDS"
}

cmd_down() {
    need_root
    if [[ ! -f $PIDS ]]; then
        log "not up ($STATE_DIR has no pids file); nothing to stop"
        return 0
    fi
    stop_all
    log "down"
}

# ----------------------------------------------------------------------------- env/status
cmd_env() {
    echo "export SLURM_CONF=$SLURM_CONF_FILE"
    echo "export REPRO_SLURM_STATE_DIR=$STATE_DIR"
}

cmd_status() {
    if [[ ! -f $PIDS ]]; then
        echo "down ($STATE_DIR)"
        return 1
    fi
    local d pid rc=0
    for d in "${DAEMONS[@]}"; do
        pid=$(pid_of "$d" || true)
        if alive "$d" "$pid"; then echo "$d: running (pid $pid)"; else echo "$d: NOT running"; rc=1; fi
    done
    export SLURM_CONF=$SLURM_CONF_FILE
    sinfo 2>&1 || rc=1
    squeue 2>&1 || true
    [[ $rc -eq 0 ]] && echo "up ($STATE_DIR)" || echo "degraded ($STATE_DIR)"
    return $rc
}

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install) cmd_install ;;
        up) set_paths "${1:-}"; cmd_up ;;
        down) set_paths "${1:-}"; cmd_down ;;
        env) set_paths "${1:-}"; cmd_env ;;
        status) set_paths "${1:-}"; cmd_status ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
