#!/usr/bin/env bash
# compare.sh: two rdplay binaries (before/after a change) renewing the same lab PCs, alternating,
# written to docs/BENCHMARKS-compare-$PCS.md. Run as root from the clone:
#
#   benches/compare.sh OLD_BINARY NEW_BINARY [PCS] [REPS]     (defaults: 50 PCs, 3 repetitions)
#
# Each binary gets a lab of its own (cmpo on 10.213.60, cmpn on 10.213.61: accounts one binary made
# are not the other's to delete), the same playbook (forks = PCS, PDF sheets) and an untimed first
# contact; then the runs alternate. Every run is checked to have renewed every PC. Wall time and peak
# RSS come from /usr/bin/time -v; after each run, `rdplay scan` of the same /24 (its own timing).
set -Eeuo pipefail
readonly ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly OLD=$1 NEW=$2 PCS=${3:-50} REPS=${4:-3}
# lab WHICH ARGS...: the lab of `old` (cmpo) or `new` (cmpn).
lab() {
  local which=$1 net=10.213.60 name=cmpo
  shift
  [[ $which == new ]] && net=10.213.61 name=cmpn
  LAB_NAME=$name LAB_NET=$net "$ROOT/examples/lab/lab" "$@"
}
work=$(mktemp -d /tmp/rdplay-compare.XXXXXX)
trap 'lab old down >/dev/null 2>&1 || true; lab new down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
for which in old new; do
  mkdir -p "$work/$which"
  install -m 0600 "$ROOT/examples/lab/bootstrap.secret" "$work/$which/bootstrap.secret"
  net=10.213.60; [[ $which == new ]] && net=10.213.61
  cat >"$work/$which/renew.yml" <<YAML
site: SS
target: { network: $net.0/24, ranges: 2-254 }
exchange: { admin_user: tech, password: { file: bootstrap.secret } }
connection: { forks: $PCS }
output: { dir: output, formats: [pdf] }
renewal: always
YAML
  bin=$OLD; [[ $which == new ]] && bin=$NEW
  lab "$which" up "$PCS" >&2
  (cd "$work/$which" && lab "$which" ctl "$bin" -q run renew.yml >/dev/null)
done
results="$work/results.tsv"
for ((r = 1; r <= REPS; r++)); do
  for which in old new; do
    bin=$OLD; [[ $which == new ]] && bin=$NEW
    (cd "$work/$which" && lab "$which" ctl /usr/bin/time -v "$bin" -q run renew.yml >"$work/out" 2>"$work/err") || true
    grep -q "^$PCS renewed, " "$work/out" || { cat "$work/out" "$work/err" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/err")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/err")
    # rdplay scan of the same /24, timed by the scan itself
    scan=$(cd "$work/$which" && lab "$which" ctl "$bin" scan renew.yml | awk '/ addresses in / { print $4 }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$which" "$wall" "$rss" "$scan" | tee -a "$results" >&2
  done
done
python3 - "$results" "$PCS" "$OLD" "$NEW" "$(uptime)" >"$ROOT/docs/BENCHMARKS-compare-$PCS.md" <<'PY'
import statistics, sys
path, pcs, old, new, load = sys.argv[1:]
rows = [l.split("\t") for l in open(path).read().splitlines()]
def stats(which, col):
    v = [float(r[col]) for r in rows if r[1] == which]
    return statistics.median(v), min(v), max(v)
print(f"# rdplay before/after, {pcs} lab PCs\n")
print("Written by `benches/compare.sh`; nothing typed by hand. Load at the end:", load.strip(), "\n")
print(f"- before: `{old}`\n- after: `{new}`\n")
print("| binary | wall s median (min–max) | peak RSS MiB median (min–max) | `rdplay scan` s median (min–max) |\n| --- | ---: | ---: | ---: |")
for w in ("old", "new"):
    t, r, c = stats(w, 2), stats(w, 3), stats(w, 4)
    print(f"| {w} | {t[0]:.2f} ({t[1]:.2f}–{t[2]:.2f}) | {r[0]/1024:.0f} ({r[1]/1024:.0f}–{r[2]/1024:.0f}) | {c[0]:.2f} ({c[1]:.2f}–{c[2]:.2f}) |")
print(f"\nRatio new/old (median wall): {stats('new', 2)[0] / stats('old', 2)[0]:.2f}")
PY
cat "$ROOT/docs/BENCHMARKS-compare-$PCS.md"
