#!/bin/sh
# rdplay's remote helper: POSIX sh, runs as root on the PC, reads its parameters on stdin.
#
# Parameters, one per line (no secrets in argv or the environment):
#   mode=renew|probe       renew changes the PC; probe only reads
#   delete=NAME            an account rdplay recorded for this PC (zero or more lines)
#   create=NAME            the new account (renew only)
#   hash=CRYPT             its password hash, given to `chpasswd -e` on stdin (renew only)
#   shell=PATH, home_base=DIR, groups=G1,G2
# Output: one JSON document on stdout; diagnostics on stderr. Exit 0 on success, 3 when refused,
# 4 when a step failed.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077

mode=probe deletes="" adopts="" create="" hash="" shell=/bin/bash home_base=/home groups=""
if [ -n "${RDPLAY_PARAMS:-}" ]; then params=$RDPLAY_PARAMS; else params=$(cat); fi
nl='
'
old_ifs=$IFS
IFS=$nl
set -f
for line in $params; do
    case $line in
        mode=*) mode=${line#mode=} ;;
        delete=*) deletes="$deletes ${line#delete=}" ;;
        adopt=*) adopts="$adopts ${line#adopt=}" ;;
        create=*) create=${line#create=} ;;
        hash=*) hash=${line#hash=} ;;
        shell=*) shell=${line#shell=} ;;
        home_base=*) home_base=${line#home_base=} ;;
        groups=*) groups=${line#groups=} ;;
        '') ;;
        *) echo "rdplay-helper: unknown parameter line" >&2; exit 3 ;;
    esac
done
IFS=$old_ifs
set +f
params=""

fail() { echo "rdplay-helper: $*" >&2; exit 4; }
refuse() { echo "rdplay-helper: refused: $*" >&2; exit 3; }

# A name rdplay may handle: Linux account name characters only.
valid_name() {
    case $1 in
        ''|-*|*[!a-zA-Z0-9._-]*) return 1 ;;
    esac
    return 0
}

uid_of() { getent passwd "$1" | cut -d: -f3; }

# The comment (GECOS) field of every account rdplay creates: what marks it as rdplay's to delete.
mark="rdplay managed account"

# One helper at a time on a PC: a run killed or interrupted on the controller leaves its helper
# running here, and the next run's helper must not decide what to delete before it has finished.
# (flock is util-linux's; without it, or without a writable /run, helpers are not serialized.)
if [ "$mode" = renew ] && command -v flock >/dev/null 2>&1 && [ -d /run ] && [ -w /run ]; then
    exec 9>>/run/rdplay-helper.lock
    flock -w 60 9 || fail "another rdplay helper has been running on this PC for over 60 s"
fi

# JSON string: control characters dropped, backslash and quote escaped.
js() {
    case $1 in
        # Plain printable ASCII without quote or backslash: as is (no process started).
        *[!\ -~]*|*[\"\\]*) ;;
        *) printf '"%s"' "$1"; return ;;
    esac
    printf '"%s"' "$(printf '%s' "$1" | tr '\t\n\r' '   ' | tr -d '\000-\037\177' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}
jsn() { if [ -n "$1" ]; then js "$1"; else printf null; fi; }
num() { case $1 in ''|*[!0-9]*) printf null ;; *) printf '%s' "$1" ;; esac; }

# 1. Check every account to delete before touching any. Adopted accounts (`account.adopt`, opt-in) were
#    not made by rdplay, so they lack the mark; every other rule holds for them too.
for u in $deletes $adopts; do
    valid_name "$u" || refuse "invalid account name"
    [ "$u" = root ] && refuse "$u is root"
    uid=$(uid_of "$u")
    [ -z "$uid" ] && continue
    case $uid in *[!0-9]*) refuse "$u has a non-numeric uid" ;; esac
    [ "$uid" -lt 1000 ] && refuse "$u has uid $uid < 1000"
    [ "$uid" -ge 60000 ] && refuse "$u has uid $uid >= 60000 (a system account)"
    # Only accounts this helper created (their comment field starts with the mark below) may go: an
    # inventory that names a human's account cannot make rdplay delete it.
    case " $adopts " in *" $u "*) continue ;; esac
    case $(getent passwd "$u" | cut -d: -f5) in
        "$mark"*) ;;
        *) refuse "$u was not created by rdplay (its comment field lacks the \"$mark\" mark)" ;;
    esac
done
if [ "$mode" = renew ]; then
    valid_name "$create" || refuse "invalid new account name"
    [ -n "$(uid_of "$create")" ] && refuse "$create already exists and is not an account rdplay recorded for this PC"
    case $hash in '$'*) ;; *) refuse "missing password hash" ;; esac
fi

# 2. Close sessions and delete (renew), or count what would go (probe).
deleted="" absent="" present=""
for u in $deletes $adopts; do
    if [ -z "$(uid_of "$u")" ]; then absent="$absent$(js "$u")," ; continue; fi
    procs=$(pgrep -u "$u" 2>/dev/null | wc -l)
    home=$(getent passwd "$u" | cut -d: -f6)
    present="$present{\"name\":$(js "$u"),\"home\":$(js "$home"),\"processes\":$(num "$procs")},"
    [ "$mode" = renew ] || continue
    if command -v loginctl >/dev/null 2>&1; then loginctl terminate-user "$u" >/dev/null 2>&1; fi
    tries=0
    while pgrep -u "$u" >/dev/null 2>&1; do
        pkill -KILL -u "$u" >/dev/null 2>&1
        tries=$((tries + 1))
        [ $tries -gt 50 ] && fail "processes of $u survive SIGKILL"
        sleep 0.1
    done
    userdel -r "$u" >/dev/null 2>&1
    rc=$?
    # 12: the home directory could not be removed (e.g. it did not exist); the account is gone.
    [ $rc -ne 0 ] && [ $rc -ne 12 ] && fail "userdel $u exited with $rc"
    [ -n "$(uid_of "$u")" ] && fail "$u still exists after userdel"
    deleted="$deleted$(js "$u"),"
done

# 3. Create the new account; the hash goes to chpasswd on stdin (printf is a shell builtin).
if [ "$mode" = renew ]; then
    set -- -m -d "$home_base/$create" -s "$shell" -c "$mark"
    [ -n "$groups" ] && set -- "$@" -G "$groups"
    useradd "$@" "$create" >/dev/null 2>&1 || fail "useradd $create failed"
    printf '%s:%s\n' "$create" "$hash" | chpasswd -e >/dev/null 2>&1 || { userdel -r "$create" >/dev/null 2>&1; fail "chpasswd failed"; }
    hash=""
fi

# 4. Facts, read with the shell's own `read` wherever a file holds them (a process per fact adds up over
#    a fleet). Every value is capped and made inert again on the controller.
# first_line FILE: its first line in $v (empty when unreadable).
first_line() { v=""; if [ -r "$1" ]; then { IFS= read -r v <"$1"; } 2>/dev/null; fi; }
os=""
if [ -r /etc/os-release ]; then
    while IFS= read -r l; do
        case $l in PRETTY_NAME=*) os=${l#PRETTY_NAME=}; os=${os#[\"\']}; os=${os%[\"\']}; break ;; esac
    done </etc/os-release
fi
cpu="" cores=0
if [ -r /proc/cpuinfo ]; then
    while IFS= read -r l; do
        case $l in
            processor*) cores=$((cores + 1)) ;;
            "model name"*) [ -z "$cpu" ] && cpu=${l#*: } ;;
        esac
    done </proc/cpuinfo
fi
mem=""
if [ -r /proc/meminfo ]; then
    while read -r k m _; do
        [ "$k" = MemTotal: ] && { mem=$m; break; }
    done </proc/meminfo
fi
first_line /proc/uptime; up=${v%%.*}
first_line /proc/sys/kernel/osrelease; kernel=$v
first_line /sys/class/dmi/id/sys_vendor; dmi_vendor=$v
first_line /sys/class/dmi/id/product_name; dmi_model=$v
first_line /sys/class/dmi/id/product_serial; dmi_serial=$v
first_line /sys/class/dmi/id/product_uuid; dmi_uuid=$v
first_line /etc/machine-id; machine_id=$v
disks=""
for d in /sys/block/*; do
    [ -e "$d" ] || continue
    n=${d##*/}
    case $n in loop*|ram*|zram*|dm-*|sr*|fd*) continue ;; esac
    first_line "$d/size"; sz=$v
    case $sz in ''|*[!0-9]*) sz=0 ;; esac
    first_line "$d/device/model"; model=$v
    disks="$disks{\"name\":$(js "$n"),\"size_bytes\":$(( sz * 512 )),\"model\":$(jsn "$model")},"
done
# Every account once: name and uid, from one `getent passwd`.
passwd=$(getent passwd 2>/dev/null)
uid_in_passwd() { # NAME: its uid from $passwd, or nothing
    IFS=$nl
    set -f
    for entry in $passwd; do
        case $entry in "$1":*) IFS=:; set -- $entry; IFS=$old_ifs; set +f; printf '%s' "$3"; return ;; esac
    done
    IFS=$old_ifs
    set +f
}
ifaces=""
for i in /sys/class/net/*; do
    [ -e "$i" ] || continue
    n=${i##*/}
    [ "$n" = lo ] && continue
    first_line "$i/address"; mac=$v
    addrs=""
    IFS=$nl
    set -f
    for line in $(ip -o addr show dev "$n" 2>/dev/null); do
        IFS=' '
        set -- $line
        [ $# -ge 4 ] && addrs="$addrs$(js "$4"),"
    done
    IFS=$old_ifs
    set +f
    ifaces="$ifaces{\"name\":$(js "$n"),\"mac\":$(jsn "$mac"),\"addresses\":[${addrs%,}]},"
done
users="" seen=" "
for u in $(who 2>/dev/null | cut -d' ' -f1; ps -eo user= 2>/dev/null); do
    case $seen in *" $u "*) continue ;; esac
    seen="$seen$u "
    uid=$(uid_in_passwd "$u")
    case $uid in ''|*[!0-9]*) continue ;; esac
    [ "$uid" -ge 1000 ] && [ "$uid" -lt 60000 ] && users="$users$(js "$u"),"
done

# Local accounts (uid 1000-59999): what `account.adopt` may choose from.
local=""
IFS=$nl
set -f
for entry in $passwd; do
    IFS=:
    set -- $entry
    IFS=$nl
    case ${3:-} in ''|*[!0-9]*) continue ;; esac
    [ "$3" -ge 1000 ] && [ "$3" -lt 60000 ] && local="$local$(js "$1"),"
done
IFS=$old_ifs
set +f

printf '{"mode":%s,"deleted":[%s],"absent":[%s],"present":[%s],"created":%s,"local":[%s],"facts":{' \
    "$(js "$mode")" "${deleted%,}" "${absent%,}" "${present%,}" "$(jsn "$create")" "${local%,}"
printf '"hostname":%s,"os":%s,"kernel":%s,"arch":%s,"cpu_model":%s,"cpu_cores":%s,"memory_kib":%s,' \
    "$(js "$(uname -n)")" "$(jsn "$os")" "$(jsn "$kernel")" "$(jsn "$(uname -m)")" "$(jsn "$cpu")" "$(num "$cores")" "$(num "$mem")"
printf '"disks":[%s],"interfaces":[%s],"dmi_vendor":%s,"dmi_model":%s,"dmi_serial":%s,"dmi_uuid":%s,"machine_id":%s,"uptime_seconds":%s,"logged_in":[%s]}}\n' \
    "${disks%,}" "${ifaces%,}" "$(jsn "$dmi_vendor")" "$(jsn "$dmi_model")" "$(jsn "$dmi_serial")" "$(jsn "$dmi_uuid")" "$(jsn "$machine_id")" "$(num "$up")" "${users%,}"
