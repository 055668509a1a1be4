#!/usr/bin/env bash
# fleet.sh: rdplay side by side with raw parallel ssh (the floor), Ansible, pyinfra and nmap on the
# same lab PCs, written to docs/BENCHMARKS.md by benches/report.py. Run as root from the clone:
#
#   benches/fleet.sh [SIZE...]          (default: 50 200)
#
# Environment: REPS (default 3), LAB_NAME (bench), LAB_NET (10.213.52: a /24, or a /22 above 250 PCs),
# PEERS_MAX (250: Ansible and pyinfra run up to this size only), KEX (curve25519-sha256: the key
# exchange of the rdplay-kex and bare-kex tools; empty: no such tools), PG (1: the rdplay-pg tool,
# rdplay with a PostgreSQL inventory; 0: none), FORKS (rdplay's forks; default
# the size), ONLY (a comma-separated list: time only these tools), DIAG (1: packet capture and strace after the rounds; 0: skip), FORMATS (pdf),
# RENDER_BENCH (1: also run `cargo bench --bench render`; 0: skip it),
# RDPLAY (the release binary), REPORT (docs/BENCHMARKS.md), BENCH_DIR (/var/cache/rdplay-bench: venv, lab cache, runs).
#
# Per size: a lab of SIZE PCs (with python3 added, for Ansible only), rdplay's first contact
# (timed once, not compared), a known_hosts from ssh-keyscan (trust on first use, then strict
# checking for the floor, Ansible and pyinfra), one untimed warm-up per tool (so that every timed
# iteration deletes an account), then REPS rounds, the tool order rotating each round:
#   rdplay   rdplay run (scan, renewal, inventory, sheets), forks = SIZE, under /usr/bin/time -v
#   rdplay-layouts  the same with output.labels and output.slips (labels.pdf, slips.pdf) added
#   rdplay-kex, bare-kex  rdplay and bare offering only the key exchange $KEX
#   rdplay-pg  rdplay with its inventory in PostgreSQL (a throwaway cluster on a Unix socket; its own
#            site, so its own accounts), the server's committed transactions counted per run
#   bare     nmap -n -p22 --open on the lab's network, then one ssh per PC (xargs -P SIZE) running a 7-line
#            script: pkill, userdel -r, useradd -m, chpasswd -e (precomputed hash), a few facts
#   floor    nmap -n -p22 --open on the lab's network, then one ssh per PC (xargs -P SIZE) running rdplay's
#            helper through `sh -s` with its parameters prepended as RDPLAY_PARAMS
#   ansible  benches/ansible-renew.yml, forks = SIZE, pipelining, ControlPersist
#   pyinfra  benches/pyinfra_renew.py, --parallel SIZE
#   scan     rdplay scan vs nmap -n -p22 --open on the lab's network
set -Eeuo pipefail
trap 'printf "fleet: error at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

readonly HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly ROOT=$(dirname "$HERE")
readonly LAB="$ROOT/examples/lab/lab"
readonly HELPER="$ROOT/src/tasks/helper.sh"
readonly BENCH_DIR=${BENCH_DIR:-/var/cache/rdplay-bench}
readonly VENV="$BENCH_DIR/venv"
readonly REPS=${REPS:-3}
readonly FORMATS=${FORMATS:-pdf}
readonly RDPLAY=${RDPLAY:-/var/cache/rdplay/target-bench/release/rdplay}
export LAB_NAME=${LAB_NAME:-bench}
export LAB_NET=${LAB_NET:-10.213.52}
readonly PEERS_MAX=${PEERS_MAX:-250}
# rdplay-kex and bare-kex: rdplay and the bare floor offering only this key exchange ('' drops them).
readonly KEX=${KEX-curve25519-sha256}
# rdplay-pg: rdplay with its inventory on a throwaway PostgreSQL cluster (Debian's postgresql
# package) that this script starts and stops; 0 drops the tool.
readonly PG=${PG:-1}
# 1: after the timed rounds, capture PC 1's packets per tool, strace one rdplay run and profile
# the whole machine (perf) during one run of rdplay and rdplay-kex; 0: skip them.
readonly DIAG=${DIAG:-1}
readonly REPORT=${REPORT:-$ROOT/docs/BENCHMARKS.md}
# The lab's own cache, plus python3 (Ansible's modules need it on the PCs; nothing else uses it).
export LAB_CACHE="$BENCH_DIR/labcache"
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(50 200)
RENDER_ONLY=""
if [[ ${1:-} == --render-only ]]; then
  # benches/fleet.sh --render-only RESULTS_DIR [SIZE...]: redo the render benchmark of a finished run
  # (e.g. after changing benches/render.rs) and rewrite the report from that run's files.
  RENDER_ONLY=${2:?--render-only RESULTS_DIR}
  SIZES=("${@:3}")
  ((${#SIZES[@]})) || SIZES=(50 200)
fi

note() { printf 'fleet: %s\n' "$*" >&2; }
die() {
  printf 'fleet: error: %s\n' "$*" >&2
  exit 1
}
lab() { "$LAB" "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

[[ $(id -u) == 0 ]] || die "run as root (the lab needs it)"
[[ -x $RDPLAY ]] || die "no rdplay at $RDPLAY: CARGO_TARGET_DIR=/var/cache/rdplay/target-bench cargo build --release"
for t in nmap ssh ssh-keyscan openssl xargs /usr/bin/time python3; do
  command -v "$t" >/dev/null || die "missing $t"
done

umask 077
mkdir -p "$BENCH_DIR"
chmod 0700 "$BENCH_DIR"

# ansible-core and pyinfra from PyPI, in a venv outside the clone.
if [[ ! -x $VENV/bin/ansible-playbook || ! -x $VENV/bin/pyinfra ]]; then
  note "installing ansible-core and pyinfra into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q ansible-core pyinfra matplotlib
fi

render_bench() { # RESULTS_DIR
  note "render benchmark (cargo bench --bench render)"
  (cd "$ROOT" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/rdplay/target-bench} BENCH_FORMATS=$FORMATS \
    cargo bench -q --bench render -- "${SIZES[@]}") >"$1/render.tsv" 2>"$1/render.log" ||
    note "the render benchmark failed (see $1/render.log)"
}
if [[ -n $RENDER_ONLY ]]; then
  render_bench "$RENDER_ONLY"
  "$VENV/bin/python" "$HERE/report.py" "$RENDER_ONLY" "$REPORT"
  exit 0
fi

# The lab's root filesystem with python3 added, under the same cache key, in LAB_CACHE.
prepare_rootfs() {
  local src key tmp
  LAB_CACHE=/var/cache/rdplay-lab LAB_NAME=bnprep lab up 1 >/dev/null 2>&1
  src=$(cat /run/rdplay-lab/bnprep/h1/rootfs)
  LAB_CACHE=/var/cache/rdplay-lab LAB_NAME=bnprep lab down
  key=${src##*/}
  [[ -d $LAB_CACHE/$key ]] && return 0
  note "adding python3 to a copy of $src"
  mkdir -p "$LAB_CACHE"
  tmp="$LAB_CACHE/.tmp-$key"
  rm -rf --one-file-system "$tmp"
  cp -a "$src" "$tmp"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  mount --bind /dev "$tmp/dev"
  mount -t proc proc "$tmp/proc"
  local rc=0
  { chroot "$tmp" apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -q --no-install-recommends python3; } \
    >"$LAB_CACHE/apt.log" 2>&1 || rc=$?
  umount "$tmp/proc" "$tmp/dev"
  ((rc == 0)) || die "apt-get in $tmp failed (see $LAB_CACHE/apt.log)"
  chroot "$tmp" apt-get clean
  : >"$tmp/etc/resolv.conf"
  mv -T "$tmp" "$LAB_CACHE/$key"
}
prepare_rootfs

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
readonly RESULTS="$BENCH_DIR/results-$STAMP"
mkdir -p "$RESULTS"
readonly TSV="$RESULTS/times.tsv"
printf 'size\tround\ttool\tseconds\tcpu_s\trss_kb\tok\n' >"$TSV"
# record SIZE ROUND TOOL SECONDS TIMEFILE OK: CPU (user+sys) and peak RSS from /usr/bin/time -v.
record() {
  local cpu rss
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$5" 2>/dev/null || true)
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$5" 2>/dev/null || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$cpu" "$rss" "$6" >>"$TSV"
}
# Runs a command in the controller namespace under /usr/bin/time -v (output to $1).
ctl_timed() {
  local tf=$1
  shift
  lab ctl /usr/bin/time -v -o "$tf" "$@"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  printf 'memory\t%s\n' "$(free -h | awk '/^Mem:/ { print $2 " total, " $7 " available" }')"
  printf 'kernel\t%s\n' "$(uname -r)"
  printf 'rdplay\t%s (%s)\n' "$("$RDPLAY" --version)" "$(git -C "$ROOT" rev-parse --short HEAD)"
  printf 'ansible\t%s\n' "$("$VENV/bin/ansible-playbook" --version | sed -n 1p)"
  printf 'pyinfra\t%s\n' "$("$VENV/bin/pyinfra" --version 2>&1 | sed -n 1p)"
  printf 'openssh\t%s\n' "$(ssh -V 2>&1)"
  printf 'nmap\t%s\n' "$(nmap --version | sed -n 1p)"
  printf 'reps\t%s\n' "$REPS"
  printf 'formats\t%s\n' "$FORMATS"
  printf 'kex\t%s\n' "${KEX:-(none)}"
  printf 'forks\t%s\n' "${FORKS:-the size}"
  printf 'load_start\t%s\n' "$(loadavg)"
} >"$RESULTS/machine.tsv"

trap 'note "taking the lab down"; lab down || true' EXIT

# A fresh sha512-crypt hash of a random password (the password goes through stdin only).
new_hash() { head -c 12 /dev/urandom | base64 | openssl passwd -6 -stdin; }

# tool prefix (floor bfl, ansible ban, pyinfra bpy): iteration k creates PREFIXk, deletes PREFIX(k-1).
acct_new() { printf '%s%s' "$1" "$2"; }
acct_old() { if (($2 == 0)); then printf '%snone' "$1"; else printf '%s%s' "$1" "$(($2 - 1))"; fi; }

# Checks on the first and last PC that $1 exists and $2 does not (the tools' own exit codes are
# checked too); prints ok or FAIL.
check_accounts() {
  local new=$1 old=$2 i
  for i in 1 "$N"; do
    lab host "$i" getent passwd "$new" >/dev/null 2>&1 || { echo FAIL; return; }
    ! lab host "$i" getent passwd "$old" >/dev/null 2>&1 || { echo FAIL; return; }
    ! lab host "$i" test -e "/home/$old" || { echo FAIL; return; }
  done
  echo ok
}

# A throwaway PostgreSQL cluster for rdplay-pg in a temporary directory the unprivileged postgres
# user can reach (the results are root's alone), on a Unix socket only, fsync on; the rdplay role's
# password in $RUN/pg.secret. Sets PG_DIR and PG_URL (the inventory's URL).
PG_BIN="" PG_DIR="" PG_URL=""
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
pg_start() {
  local dir pw
  PG_DIR=$(mktemp -d /tmp/rdplay-bench-pg.XXXXXX)
  dir=$PG_DIR
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [[ -x $PG_BIN/initdb ]] || die "rdplay-pg needs Debian's postgresql package (or PG=0)"
  mkdir -p "$dir" && chown postgres:postgres "$dir" && chmod 0755 "$dir"
  as_postgres "$PG_BIN/initdb" -A trust -U postgres -E UTF8 --no-sync -D "$dir/data" >"$RUN/logs/initdb.log" 2>&1 ||
    die "initdb failed: $RUN/logs/initdb.log"
  printf "listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = on\nmax_connections = %d\nshared_buffers = 64MB\n" \
    "$dir" $((${FORKS:-$N} + 50)) >>"$dir/data/postgresql.conf"
  printf 'local all postgres trust\nlocal all all scram-sha-256\n' >"$dir/data/pg_hba.conf"
  as_postgres "$PG_BIN/pg_ctl" -w -s -l "$dir/server.log" -D "$dir/data" start || die "pg_ctl start failed: $dir/server.log"
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  install -m 0600 /dev/null "$RUN/pg.secret"
  printf '%s\n' "$pw" >"$RUN/pg.secret"
  pg_sql "CREATE ROLE rdplay LOGIN PASSWORD '$pw'" && pg_sql "CREATE DATABASE rdplay OWNER rdplay" || die "creating the rdplay role failed"
  PG_URL="postgres://rdplay@${dir//\//%2F}/rdplay"
}
pg_sql() { as_postgres "$PG_BIN/psql" -h "$PG_DIR" -d postgres -qAt -c "$1"; }
pg_stop() {
  [[ -n $PG_DIR && -d $PG_DIR/data ]] || return 0
  as_postgres "$PG_BIN/pg_ctl" -s -D "$PG_DIR/data" -m fast stop || true
  cp "$PG_DIR/server.log" "$RUN/logs/pg-server.log" 2>/dev/null || true
  rm -rf --one-file-system "$PG_DIR"
  PG_DIR=""
}
pg_commits() { pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'rdplay'"; }

run_rdplay_pg() { # round
  local before after
  before=$(pg_commits)
  run_rdplay "$1" rdplay-pg "$RUN/renew-pg.yml"
  sleep 0.6 # the statistics collector reports every 500 ms
  after=$(pg_commits)
  [[ $1 == warm ]] || printf 'pg_commits_%s_%s\t%s\n' "$N" "$1" "$((after - before))" >>"$RESULTS/machine.tsv"
}

run_rdplay() { # round (rt, warm: untimed) [TOOL PLAYBOOK]: TOOL rdplay-layouts has labels and slips on
  local r=$1 tool=${2:-rdplay} playbook=${3:-$RUN/renew.yml} log t0 t1 rc=0 ok commits
  log="$RUN/logs/$tool-$r.log"
  : >"$log.start"
  t0=$(now)
  ctl_timed "$RUN/logs/$tool-$r.time" "$RDPLAY" --log-level debug run "$playbook" >"$log" 2>&1 || rc=$?
  t1=$(now)
  # grep reads to the end (no -q): under pipefail, sed killed by SIGPIPE would fail a good run.
  ok=$([[ $rc == 0 ]] && sed 's/\x1b\[[0-9;]*m//g' "$log" | grep "run finished done=$N failed=0" >/dev/null &&
    echo ok || echo "FAIL(exit $rc)")
  if [[ $ok == ok && $tool == rdplay-layouts ]]; then
    [[ -n $(find "$RUN/output" -name labels.pdf -newer "$log.start") && -n $(find "$RUN/output" -name slips.pdf -newer "$log.start") ]] ||
      ok="FAIL(no new labels.pdf and slips.pdf)"
  fi
  [[ $r == rt || $r == warm ]] || record "$N" "$r" "$tool" "$(elapsed "$t0" "$t1")" "$RUN/logs/$tool-$r.time" "$ok"
  # The SQLite inventory's transactions (its log says how many carried the run's writes).
  commits=$(sed -n 's/.*inventory writes writes=[0-9]* commits=\([0-9]*\).*/\1/p' "$log" | tail -n1)
  [[ -n $commits && $r != rt && $r != warm ]] && printf 'sqlite_commits_%s_%s_%s\t%s\n' "$tool" "$N" "$r" "$commits" >>"$RESULTS/machine.tsv"
  note "$tool $r: $(elapsed "$t0" "$t1") s $ok"
}

# ssh_each LOGBASE SCRIPT OUTDIR EXT [KEX]: nmap the /24, then one `ssh root@IP sh -s <SCRIPT` per open
# PC, all at once, each PC's output in OUTDIR/IP.EXT, offering only the key exchange KEX when given;
# timed into LOGBASE.time, messages in LOGBASE.log.
ssh_each() {
  local kex=${5:+KexAlgorithms=$5}
  ctl_timed "$1.time" bash -c '
    set -o pipefail
    nmap -n -p22 --open -oG - "$1" | awk "/22\\/open/ { print \$2 }" |
      xargs -P "$2" -I{} sh -c "ssh -i \"\$0\" -o BatchMode=yes -o UserKnownHostsFile=\"\$1\" \
        -o StrictHostKeyChecking=yes -o ConnectTimeout=5 -o \"\$4\" root@{} sh -s <\"\$2\" >\"\$3/{}.$7\"" \
        "$3" "$4" "$5" "$6" "$8"' _ "$CIDR" "$N" "$RUN/state/id_ed25519" "$RUN/known_hosts" \
    "$2" "$3" "$4" "${kex:-ConnectionAttempts=1}" >"$1.log" 2>&1
}

run_floor() { # round iteration
  local r=$1 k=$2 new old script t0 t1 rc=0 good ok
  new=$(acct_new bfl "$k")
  old=$(acct_old bfl "$k")
  script="$RUN/floor/script-$k.sh"
  mkdir -p "$RUN/floor/out-$k"
  {
    printf "RDPLAY_PARAMS='mode=renew\ndelete=%s\ncreate=%s\nhash=%s\nshell=/bin/bash\nhome_base=/home\n'\n" \
      "$old" "$new" "$(new_hash)"
    cat "$HELPER"
  } >"$script"
  t0=$(now)
  ssh_each "$RUN/logs/floor-$k" "$script" "$RUN/floor/out-$k" json || rc=$?
  t1=$(now)
  good=$(grep -l "\"created\":\"$new\"" "$RUN/floor/out-$k"/*.json 2>/dev/null | wc -l)
  ok=$([[ $rc == 0 && $good == "$N" ]] && check_accounts "$new" "$old" || echo "FAIL(exit $rc, $good/$N)")
  rm -f "$script"
  ((r > 0)) && record "$N" "$r" floor "$(elapsed "$t0" "$t1")" "$RUN/logs/floor-$k.time" "$ok"
  note "floor $k: $(elapsed "$t0" "$t1") s $ok"
}

# The bare floor: nmap, then one ssh per PC running the barest renewal script (kill, userdel -r,
# useradd -m, chpasswd -e with a precomputed hash, a few facts): what any tool must at least cost.
run_bare() { # round iteration [KEX]: with KEX, tool bare-kex (its own accounts) offers only that key exchange
  local r=$1 k=$2 kex=${3:-} tool=bare prefix=bbr new old script t0 t1 rc=0 good ok
  [[ -n $kex ]] && tool=bare-kex prefix=bbk
  new=$(acct_new $prefix "$k")
  old=$(acct_old $prefix "$k")
  script="$RUN/bare/$tool-script-$k.sh"
  mkdir -p "$RUN/bare/$tool-out-$k"
  cat >"$script" <<EOS
pkill -KILL -u $old 2>/dev/null; userdel -r $old 2>/dev/null
useradd -m -s /bin/bash $new
printf '%s:%s\n' $new '$(new_hash)' | chpasswd -e
cat /etc/os-release; nproc; grep MemTotal /proc/meminfo
cat /sys/class/net/*/address; ip -o -4 addr show
df -P /
id -u $new >/dev/null && echo BARE-OK
EOS
  t0=$(now)
  ssh_each "$RUN/logs/$tool-$k" "$script" "$RUN/bare/$tool-out-$k" out "$kex" || rc=$?
  t1=$(now)
  good=$(grep -l '^BARE-OK$' "$RUN/bare/$tool-out-$k"/*.out 2>/dev/null | wc -l)
  ok=$([[ $rc == 0 && $good == "$N" ]] && check_accounts "$new" "$old" || echo "FAIL(exit $rc, $good/$N)")
  rm -f "$script"
  ((r > 0)) && record "$N" "$r" $tool "$(elapsed "$t0" "$t1")" "$RUN/logs/$tool-$k.time" "$ok"
  note "$tool $k: $(elapsed "$t0" "$t1") s $ok"
}

run_ansible() { # round iteration
  local r=$1 k=$2 new old t0 t1 rc=0 ok
  new=$(acct_new ban "$k")
  old=$(acct_old ban "$k")
  printf 'old: %s\nnew: %s\nhash: "%s"\n' "$old" "$new" "$(new_hash)" >"$RUN/ansible/vars.yml"
  sed -i "s|^control_path_dir = .*|control_path_dir = $RUN/ansible/cp-$k|" "$RUN/ansible/ansible.cfg"
  t0=$(now)
  ctl_timed "$RUN/logs/ansible-$k.time" env ANSIBLE_CONFIG="$RUN/ansible/ansible.cfg" "$VENV/bin/ansible-playbook" \
    -e "@$RUN/ansible/vars.yml" "$HERE/ansible-renew.yml" >"$RUN/logs/ansible-$k.log" 2>&1 || rc=$?
  t1=$(now)
  ok=$([[ $rc == 0 ]] && check_accounts "$new" "$old" || echo "FAIL(exit $rc)")
  ((r > 0)) && record "$N" "$r" ansible "$(elapsed "$t0" "$t1")" "$RUN/logs/ansible-$k.time" "$ok"
  note "ansible $k: $(elapsed "$t0" "$t1") s $ok"
}

run_pyinfra() { # round iteration
  local r=$1 k=$2 new old t0 t1 rc=0 ok
  new=$(acct_new bpy "$k")
  old=$(acct_old bpy "$k")
  printf '{"old": "%s", "new": "%s", "hash": "%s"}\n' "$old" "$new" "$(new_hash)" >"$RUN/pyinfra/vars.json"
  t0=$(now)
  (cd "$RUN/pyinfra" && ctl_timed "$RUN/logs/pyinfra-$k.time" env BENCH_VARS="$RUN/pyinfra/vars.json" "$VENV/bin/pyinfra" -y \
    --parallel "$N" inventory.py "$HERE/pyinfra_renew.py") >"$RUN/logs/pyinfra-$k.log" 2>&1 || rc=$?
  t1=$(now)
  ok=$([[ $rc == 0 ]] && check_accounts "$new" "$old" || echo "FAIL(exit $rc)")
  ((r > 0)) && record "$N" "$r" pyinfra "$(elapsed "$t0" "$t1")" "$RUN/logs/pyinfra-$k.time" "$ok"
  note "pyinfra $k: $(elapsed "$t0" "$t1") s $ok"
}

run_scans() { # round
  local r=$1 t0 t1 rc=0 n
  t0=$(now)
  ctl_timed "$RUN/logs/scan-$r.time" "$RDPLAY" scan "$RUN/renew.yml" >"$RUN/logs/scan-$r.log" 2>&1 || rc=$?
  t1=$(now)
  n=$(grep -c ' open$' "$RUN/logs/scan-$r.log" || true)
  record "$N" "$r" rdplay-scan "$(elapsed "$t0" "$t1")" "$RUN/logs/scan-$r.time" "$([[ $rc == 0 && $n == "$N" ]] && echo ok || echo "FAIL(exit $rc, $n open)")"
  rc=0
  t0=$(now)
  ctl_timed "$RUN/logs/nmap-$r.time" nmap -n -p22 --open "$CIDR" >"$RUN/logs/nmap-$r.log" 2>&1 || rc=$?
  t1=$(now)
  n=$(grep -c '^22/tcp open' "$RUN/logs/nmap-$r.log" || true)
  record "$N" "$r" nmap "$(elapsed "$t0" "$t1")" "$RUN/logs/nmap-$r.time" "$([[ $rc == 0 && $n == "$N" ]] && echo ok || echo "FAIL(exit $rc, $n open)")"
}

for N in "${SIZES[@]}"; do
  RUN="$RESULTS/run-$N"
  # The lab's network: a /24 up to 250 PCs, a /22 above (examples/lab/lab does the same).
  # (rdplay: range 2-254 of the /24; the whole /22, where the controller's .1 has no sshd.)
  if ((N <= 250)); then CIDR="$LAB_NET.0/24" RANGES="  ranges: 2-254"; else CIDR="$LAB_NET.0/22" RANGES=""; fi
  mkdir -p "$RUN/logs" "$RUN/floor" "$RUN/bare" "$RUN/ansible" "$RUN/pyinfra"
  note "size $N: lab up (load $(loadavg))"
  printf 'load_before_%s\t%s\n' "$N" "$(loadavg)" >>"$RESULTS/machine.tsv"
  lab up "$N" 2>&1 | tail -n1 >&2
  install -m 0600 "$ROOT/examples/lab/bootstrap.secret" "$RUN/bootstrap.secret"
  cat >"$RUN/renew.yml" <<EOF
site: BN
target:
  network: $CIDR
$RANGES
exchange:
  admin_user: tech
  password: { file: bootstrap.secret }
  become: sudo
connection:
  connect_timeout: 5s
  forks: ${FORKS:-$N}
renewal: always
state_dir: state
output:
  dir: output
  formats: [$FORMATS]
EOF
  # The same playbook with the label sheets and slips (output.labels, output.slips) on: the share
  # they add to a whole run.
  sed 's/^  formats: .*/&\n  labels: { sheet: avery-l7160 }\n  slips: {}/' "$RUN/renew.yml" >"$RUN/renew-layouts.yml"
  # The same playbook offering only the key exchange $KEX (connection.kex_algorithms): what the
  # default post-quantum key exchange costs (docs/PLAYBOOK.md "Key exchange").
  [[ -n $KEX ]] && sed "s/^  forks: .*/&\n  kex_algorithms: [$KEX]/" "$RUN/renew.yml" >"$RUN/renew-kex.yml"
  if [[ $PG == 1 ]]; then
    pg_start
    trap 'pg_stop; note "taking the lab down"; lab down || true' EXIT
    sed 's/^site: BN$/site: BP/' "$RUN/renew.yml" >"$RUN/renew-pg.yml"
    printf 'inventory:\n  url: "%s"\n  password: { file: pg.secret }\n' "$PG_URL" >>"$RUN/renew-pg.yml"
  fi
  IPS=$(lab list | awk '{ print $2 }')

  # rdplay's first contact: every PC trusts its key from then on.
  t0=$(now)
  ctl_timed "$RUN/logs/first.time" "$RDPLAY" --log-level debug run "$RUN/renew.yml" >"$RUN/logs/first.log" 2>&1 || die "rdplay's first contact failed: $RUN/logs/first.log"
  t1=$(now)
  record "$N" 0 rdplay-first-contact "$(elapsed "$t0" "$t1")" "$RUN/logs/first.time" ok
  note "rdplay first contact: $(elapsed "$t0" "$t1") s"

  # The PCs' host keys, trusted on first use (as rdplay's first contact does), then checked strictly.
  # shellcheck disable=SC2086
  # In batches of 100: one ssh-keyscan of 1,000 addresses at once loses some on a busy machine.
  : >"$RUN/known_hosts"
  printf '%s\n' $IPS | xargs -n 100 | while read -r batch; do
    lab ctl ssh-keyscan -T 10 -t ed25519,ecdsa $batch >>"$RUN/known_hosts" 2>/dev/null || true
  done
  [[ $(awk '{ print $1 }' "$RUN/known_hosts" | sort -u | wc -l) == "$N" ]] || die "ssh-keyscan missed PCs"

  cat >"$RUN/ansible/hosts.ini" <<EOF
[lab]
$IPS
EOF
  cat >"$RUN/ansible/ansible.cfg" <<EOF
[defaults]
inventory = $RUN/ansible/hosts.ini
forks = $N
remote_user = root
private_key_file = $RUN/state/id_ed25519
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o BatchMode=yes -o UserKnownHostsFile=$RUN/known_hosts -o StrictHostKeyChecking=yes
control_path_dir = $RUN/ansible/cp
EOF
  {
    printf 'hosts = (\n    [\n'
    for ip in $IPS; do printf '        "%s",\n' "$ip"; done
    printf '    ],\n    {\n        "ssh_user": "root",\n        "ssh_key": "%s",\n' "$RUN/state/id_ed25519"
    printf '        "ssh_known_hosts_file": "%s",\n        "ssh_strict_host_key_checking": "yes",\n    },\n)\n' \
      "$RUN/known_hosts"
  } >"$RUN/pyinfra/inventory.py"

  # Warm-ups (untimed): each tool's first account, so every timed iteration deletes one.
  run_floor 0 0
  run_bare 0 0
  TOOLS=(rdplay rdplay-layouts bare floor)
  if [[ -n $KEX ]]; then
    run_bare 0 0 "$KEX"
    TOOLS+=(rdplay-kex bare-kex)
  fi
  if [[ $PG == 1 ]]; then
    run_rdplay_pg warm # first contact for its inventory (untimed)
    TOOLS+=(rdplay-pg)
  fi
  if ((N <= PEERS_MAX)); then
    run_ansible 0 0
    run_pyinfra 0 0
    TOOLS+=(ansible pyinfra)
  fi
  # ONLY=tool,tool...: time only these tools (the others still get their warm-up).
  if [[ -n ${ONLY:-} ]]; then
    kept=()
    for tool in "${TOOLS[@]}"; do [[ ,$ONLY, == *,$tool,* ]] && kept+=("$tool"); done
    TOOLS=("${kept[@]}")
  fi
  for ((r = 1; r <= REPS; r++)); do
    note "size $N round $r/$REPS (load $(loadavg))"
    for ((j = 0; j < ${#TOOLS[@]}; j++)); do
      tool=${TOOLS[$(((j + r - 1) % ${#TOOLS[@]}))]}
      case $tool in
      rdplay) run_rdplay "$r" ;;
      rdplay-layouts) run_rdplay "$r" rdplay-layouts "$RUN/renew-layouts.yml" ;;
      floor) run_floor "$r" "$r" ;;
      bare) run_bare "$r" "$r" ;;
      rdplay-kex) run_rdplay "$r" rdplay-kex "$RUN/renew-kex.yml" ;;
      rdplay-pg) run_rdplay_pg "$r" ;;
      bare-kex) run_bare "$r" "$r" "$KEX" ;;
      ansible) run_ansible "$r" "$r" ;;
      pyinfra) run_pyinfra "$r" "$r" ;;
      esac
    done
    run_scans "$r"
  done
  # Untimed: one more run of each tool with the traffic of PC 1 captured (benches/round_trips.py
  # counts its round trips). Round 0 is not recorded; iteration REPS+1 continues each tool's accounts.
  if [[ $DIAG == 1 ]] && command -v tcpdump >/dev/null; then
    k=$((REPS + 1))
    ip1=$(lab list | awk 'NR == 1 { print $2 }')
    for tool in "${TOOLS[@]}"; do
      [[ $tool == rdplay-layouts || $tool == rdplay-kex || $tool == bare-kex || $tool == rdplay-pg ]] && continue
      cap="$RUN/logs/rt-$tool.pcap"
      lab ctl tcpdump -i br0 -nn -s 128 -Z root -w "$cap" "host $ip1 and tcp port 22" 2>"$cap.log" &
      tcpdump_pid=$!
      for _ in $(seq 1 100); do grep -q listening "$cap.log" && break; sleep 0.1; done
      case $tool in
      rdplay) run_rdplay rt ;;
      *) "run_$tool" 0 "$k" ;;
      esac
      sleep 1
      # tcpdump itself, not the `lab ctl` around it (which waits for it): it then writes its last packets.
      pkill -INT -f -- "-w $cap " || true
      wait "$tcpdump_pid" || true
      printf 'rt_%s_%s\t%s\n' "$tool" "$N" "$(tcpdump -r "$cap" -nn -tt 2>/dev/null |
        python3 "$HERE/round_trips.py" "$LAB_NET.1")" >>"$RESULTS/machine.tsv"
    done
  fi
  # Diagnostic, untimed: the processes rdplay starts per PC and its fsyncs (one more renewal, under strace).
  if [[ $DIAG == 1 ]] && command -v strace >/dev/null; then
    lab ctl strace -f -qq -T -s 64 -e trace=execve,fsync,fdatasync -o "$RUN/logs/strace.txt" "$RDPLAY" run "$RUN/renew.yml" \
      >"$RUN/logs/strace-run.log" 2>&1 || note "the strace run failed (see $RUN/logs/strace-run.log)"
    printf 'execve_ssh_%s\t%s\n' "$N" "$(grep -c 'execve("/usr/bin/ssh"' "$RUN/logs/strace.txt" || true)" \
      >>"$RESULTS/machine.tsv"
    awk '/(fsync|fdatasync)\(/ { n++ } /(fsync|fdatasync)/ && match($0, /<[0-9.]+>$/) {
        t += substr($0, RSTART + 1, RLENGTH - 2) } END { printf "%d\t%.2f\n", n, t }' "$RUN/logs/strace.txt" |
      sed "s/^/fsync_$N\t/" >>"$RESULTS/machine.tsv"
    grep 'execve("/usr/bin/ssh"' "$RUN/logs/strace.txt" |
      sed -E 's/.*"-M".*/master (-M)/; s/.*"PubkeyAuthentication=no".*/login check (password)/;
        s/.*"-O", "([a-z]+)".*/control (-O \1)/; s/.*"-s".*/sftp subsystem (-s)/;
        s/.*"--", "(.{0,24}).*/command: \1.../' | sort | uniq -c >"$RUN/logs/ssh-kinds.txt" || true
  fi
  # Diagnostic, untimed: where the machine's CPU goes during one renewal (controller and PCs share
  # its cores), per command name with its samples, from a system-wide perf profile; for rdplay and
  # the bare floor, each with OpenSSH's default key exchange and with $KEX. perf records in the
  # background around the tool's run (the bare floor is this script's function, not a program).
  if [[ $DIAG == 1 ]] && command -v perf >/dev/null; then
    for tool in rdplay rdplay-kex bare bare-kex; do
      [[ $tool == *-kex && -z $KEX ]] && continue
      perf record -a -F 499 -o "$RUN/logs/perf-$tool.data" >"$RUN/logs/perf-$tool.log" 2>&1 &
      perf_pid=$!
      sleep 1 # perf has started recording
      case $tool in
      rdplay) lab ctl "$RDPLAY" run "$RUN/renew.yml" >>"$RUN/logs/perf-$tool.log" 2>&1 ;;
      rdplay-kex) lab ctl "$RDPLAY" run "$RUN/renew-kex.yml" >>"$RUN/logs/perf-$tool.log" 2>&1 ;;
      # bare's iteration REPS+1 was the packet capture's; bare-kex had none.
      bare) run_bare 0 $((REPS + 2)) ;;
      bare-kex) run_bare 0 $((REPS + 1)) "$KEX" ;;
      esac || note "the perf run of $tool failed (see $RUN/logs/perf-$tool.log)"
      kill -INT "$perf_pid"
      wait "$perf_pid" || true
      # percent, command name, samples
      perf report -i "$RUN/logs/perf-$tool.data" --sort comm --stdio --no-children -n 2>/dev/null |
        awk '/^ +[0-9.]+%/ { sub("%", "", $1); c = $3; for (i = 4; i <= NF; i++) c = c " " $i; print $1 "\t" c "\t" $2 }' \
          >"$RUN/logs/profile-$tool.tsv" || true
    done
  fi
  printf 'load_after_%s\t%s\n' "$N" "$(loadavg)" >>"$RESULTS/machine.tsv"
  pg_stop
  note "size $N: lab down"
  lab down
done
printf 'load_end\t%s\n' "$(loadavg)" >>"$RESULTS/machine.tsv"

# Sheets alone: N user + N PC sheets on one thread, then the batch files (benches/render.rs).
[[ ${RENDER_BENCH:-1} == 1 ]] && render_bench "$RESULTS"

# The venv's python has matplotlib for the chart when installed (pip install matplotlib); else none.
"$VENV/bin/python" "$HERE/report.py" "$RESULTS" "$REPORT"
note "results: $RESULTS; report: $REPORT"
