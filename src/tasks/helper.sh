#!/bin/sh
# rdplay's remote helper: POSIX sh, runs as root on the PC, reads its parameters on stdin.
#
# Parameters, one per line (no secrets in argv or the environment):
#   mode=renew|probe|archive
#                          renew changes the PC; probe only reads; archive stops the one account (its
#                          jobs, its logins, its processes: see stop_account) and then writes its home and
#                          the files it owns elsewhere to stdout as a gzip'd tar, read as that account
#   delete=NAME            an account rdplay recorded for this PC (zero or more lines)
#   adopt=NAME             a pre-existing account `account.adopt` selected (zero or more lines)
#   create=NAME            the new account (renew only)
#   hash=CRYPT             its password hash, given to `chpasswd -e` on stdin (renew only)
#   min_uid=N              the lowest uid (and gid) the new account may get: 1 + the highest uid rdplay
#                          recorded for this PC (renew only; absent when none was)
#   shell=PATH, home_base=DIR, groups=G1,G2
#                          renew: the new account's login shell (the one the plan chose), its home's
#                          parent and supplementary groups; probe: one shell= line per login shell
#                          `account.shell` names, reported as seen here (exists, in /etc/shells)
# The tools it uses are the PC's own: shadow's (useradd, userdel, groupadd, chpasswd); where those do not
# exist, busybox's applets (adduser, deluser, addgroup, delgroup, chpasswd) when its busybox has them
# (Debian's does not), else it edits /etc/passwd, shadow, group and gshadow itself; on a PC systemd runs,
# loginctl and systemctl end the old accounts' sessions, user managers and lingering. The report says
# which ("tools").
# What proves that rdplay made an account is root's record on the PC, $record ("NAME UID" lines, written
# before the account is made), not the account's comment field (which its user may be able to change).
# Output: one JSON document on stdout (the archive in archive mode); diagnostics on stderr. Exit 0 on
# success, 3 when refused, 4 when a step failed (archive mode: tar's exit code otherwise).
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077

mode=probe deletes="" adopts="" create="" hash="" shell="" shells="" home_base=/home groups="" min_uid=0
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
        shell=*) shell=${line#shell=}; shells="$shells$shell$nl" ;;
        home_base=*) home_base=${line#home_base=} ;;
        groups=*) groups=${line#groups=} ;;
        min_uid=*) min_uid=${line#min_uid=} ;;
        '') ;;
        *) echo "rdplay-helper: unknown parameter line" >&2; exit 3 ;;
    esac
done
IFS=$old_ifs
set +f
params=""

fail() { echo "rdplay-helper: $*" >&2; exit 4; }
# (The locks of the account files, see db_lock, go with the helper however it ends.)
locks=""
trap 'rm -f -- $locks' EXIT
trap 'exit 4' HUP INT TERM
refuse() { echo "rdplay-helper: refused: $*" >&2; exit 3; }

# A name rdplay may handle: Linux account name characters only.
valid_name() {
    case $1 in
        ''|-*|*[!a-zA-Z0-9._-]*) return 1 ;;
    esac
    return 0
}

uid_of() { getent passwd "$1" | cut -d: -f3; }

# The comment (GECOS) field of every account rdplay creates. Only a PC that has no $record yet (its
# accounts made by an rdplay before the record existed) takes it as proof that rdplay made an account.
mark="rdplay managed account"
# rdplay's own state on the PC, root's alone: the record of the accounts it made ("NAME UID" lines) and
# the highest uid it ever gave here.
state=/var/lib/rdplay
record=$state/accounts
high=$state/uid-high

# capped FILE N: at most N bytes of FILE into $v (empty when unreadable): a file of any size, or one
# endless line, costs one short read, never the step timeout.
capped() { v=""; if [ -r "$1" ]; then v=$(head -c "$2" -- "$1" 2>/dev/null); fi; }

# record_put NAME [UID]: root's record of rdplay's accounts with NAME's line replaced by "NAME UID", or
# removed when no UID is given; written whole, synced and renamed into place.
record_put() {
    mkdir -p -m 0700 -- "$state" && [ -d "$state" ] && [ ! -L "$state" ] || return 1
    capped "$record" 1048576
    {
        printf '%s\n' "$v" | awk -v n="$1" 'NF == 2 && $1 != n'
        if [ -n "${2:-}" ]; then printf '%s %s\n' "$1" "$2"; fi
    } >"$record.new" && fsync_file "$record.new" && mv -f -- "$record.new" "$record" && fsync_file "$state/"
}
# high_put UID: the highest uid rdplay gave on this PC, when UID is higher.
high_put() {
    capped "$high" 16
    if is_num "$v" && [ "$v" -ge "$1" ]; then return 0; fi
    printf '%s\n' "$1" >"$high.new" && fsync_file "$high.new" && mv -f -- "$high.new" "$high"
}

# fsync_file PATH: PATH's data on the disk (coreutils' and busybox's `sync FILE`; a whole `sync`
# where that is not understood).
fsync_file() { sync -- "$1" 2>/dev/null || sync; }

# One helper at a time on a PC: a run killed or interrupted on the controller leaves its helper
# running here, and the next run's helper must not decide what to delete before it has finished.
# (flock is util-linux's; without it, or without a writable /run, helpers are not serialized.)
if [ "$mode" != probe ] && command -v flock >/dev/null 2>&1 && [ -d /run ] && [ -w /run ]; then
    exec 9>>/run/rdplay-helper.lock
    flock -w 60 9 || fail "another rdplay helper has been running on this PC for over 60 s"
fi

# The account files, edited without shadow's tools (accounts=files, and locking an account in busybox
# mode). Every change writes a new copy of the file next to it, with the file's owner, mode and SELinux
# label, syncs it to the disk and renames it over the file, then syncs the directory: a reader sees the
# old or the new file, never half of one, and a crash or a power cut leaves the old one or the new one.
# db_replace FILE: the new content is on stdin.
db_replace() {
    tmp="$1.rdplay-new"
    rm -f -- "$tmp"
    cat >"$tmp" || { rm -f -- "$tmp"; return 1; }
    chown "$(stat -c %u:%g "$1")" "$tmp" && chmod "$(stat -c %a "$1")" "$tmp" || { rm -f -- "$tmp"; return 1; }
    if [ -e /sys/fs/selinux/enforce ] && command -v chcon >/dev/null 2>&1; then
        chcon --reference="$1" -- "$tmp" || { rm -f -- "$tmp"; return 1; }
    fi
    fsync_file "$tmp" && mv -f -- "$tmp" "$1" || { rm -f -- "$tmp"; return 1; }
    fsync_file "${1%/*}/"
}
# db_drop FILE NAME: removes NAME's line (its first field).
db_drop() {
    [ -f "$1" ] || return 0
    awk -F: -v n="$2" '$1 != n' "$1" | db_replace "$1"
}
# db_unmember FILE NAME: removes NAME from every group's member list (field 4 of group and gshadow).
db_unmember() {
    [ -f "$1" ] || return 0
    awk -F: -v OFS=: -v n="$2" 'NF >= 4 {
            k = split($4, m, ","); $4 = ""
            for (i = 1; i <= k; i++) if (m[i] != n && m[i] != "") $4 = ($4 == "" ? m[i] : $4 "," m[i])
        } { print }' "$1" | db_replace "$1"
}
# db_member FILE GROUP NAME: adds NAME to GROUP's member list (field 4).
db_member() {
    [ -f "$1" ] || return 0
    awk -F: -v OFS=: -v g="$2" -v n="$3" '$1 == g && NF >= 4 { $4 = ($4 == "" ? n : $4 "," n) } { print }' "$1" |
        db_replace "$1"
}
# db_lock: the locks shadow's own tools take: FILE.lock beside each account file, made as shadow's
# commonio does (a file holding the pid, hard-linked to FILE.lock: only one process can make it; a lock
# whose process is gone is stale and taken over), and flock(1) on /etc/.pwd.lock for those that use it
# (lckpwdf's fcntl lock on it is another kind of lock: SECURITY.md). Released when the helper exits.
db_lock() {
    [ -n "$locks" ] && return 0
    for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
        [ -e "$f" ] || continue
        printf '%s' "$$" >"$f.$$" || fail "cannot lock $f"
        n=0
        until ln -- "$f.$$" "$f.lock" 2>/dev/null; do
            n=$((n + 1))
            capped "$f.lock" 16
            if is_num "$v" && ! kill -0 "$v" 2>/dev/null; then rm -f -- "$f.lock"; fi
            [ $n -gt 300 ] && { rm -f -- "$f.$$"; fail "$f.lock has been held for over 30 s"; }
            sleep 0.1
        done
        rm -f -- "$f.$$"
        locks="$locks $f.lock"
    done
    if command -v flock >/dev/null 2>&1; then
        exec 8>>/etc/.pwd.lock
        flock -w 30 8 || fail "another program has held /etc/.pwd.lock for over 30 s"
    fi
}

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

# The tools this PC has. Accounts: shadow's, else busybox's applets (called through `busybox` itself, so
# that another program named adduser, such as Debian's, is never taken for the applet), else the account
# files themselves, when /etc/passwd, /etc/shadow and /etc/group are regular files. Sessions: systemd
# runs the PC when /run/systemd/system exists (sd_booted's test) and loginctl is there.
accounts="" systemd=false
if command -v useradd >/dev/null 2>&1 && command -v userdel >/dev/null 2>&1 &&
    command -v groupadd >/dev/null 2>&1 && command -v chpasswd >/dev/null 2>&1; then
    accounts=shadow
elif command -v busybox >/dev/null 2>&1; then
    applets=" $(busybox --list 2>/dev/null | tr '\n' ' ')"
    accounts=busybox
    for a in adduser deluser addgroup delgroup chpasswd; do
        case $applets in *" $a "*) ;; *) accounts="" ;; esac
    done
fi
if [ -z "$accounts" ] && [ -f /etc/passwd ] && [ ! -L /etc/passwd ] && [ -f /etc/shadow ] &&
    [ ! -L /etc/shadow ] && [ -f /etc/group ] && [ ! -L /etc/group ]; then
    accounts=files
fi
[ -n "$accounts" ] ||
    refuse "this PC has no way to manage accounts: neither shadow's useradd, userdel, groupadd and chpasswd, nor busybox's adduser, deluser, addgroup, delgroup and chpasswd, nor regular /etc/passwd, /etc/shadow and /etc/group files"
if [ -d /run/systemd/system ] && command -v loginctl >/dev/null 2>&1 && command -v systemctl >/dev/null 2>&1; then
    systemd=true
fi
# How the helper acts as one account (as_uid): util-linux's setpriv, else busybox's chpst.
drop=""
if command -v setpriv >/dev/null 2>&1; then
    drop=setpriv
elif command -v busybox >/dev/null 2>&1 && busybox chpst 2>&1 | grep -q 'chpst'; then
    drop=chpst
fi
# as_uid UID GID CMD...: CMD as that uid and gid alone (no supplementary group, no capability): it can
# read, and signal, exactly what the account itself could.
as_uid() {
    a_uid=$1 a_gid=$2
    shift 2
    case $drop in
        setpriv) setpriv --reuid="$a_uid" --regid="$a_gid" --clear-groups -- "$@" ;;
        chpst) busybox chpst -u "$a_uid:$a_gid" "$@" ;;
        *) return 126 ;;
    esac
}
# The login shells. Probe: what the planner chooses the new account's shell from, each shell asked
# about as seen here: whether it exists (an executable file) and is a line of /etc/shells. Renew: the
# shell the plan chose must still exist here; without it the account could not log in.
shells_seen=""
if [ "$mode" = probe ]; then
    capped /etc/shells 65536
    etc_shells=$v
    IFS=$nl
    set -f
    for s in $shells; do
        exists=false listed=false
        if [ -f "$s" ] && [ -x "$s" ]; then exists=true; fi
        case "$nl$etc_shells$nl" in *"$nl$s$nl"*) listed=true ;; esac
        shells_seen="$shells_seen{\"path\":$(js "$s"),\"exists\":$exists,\"listed\":$listed},"
    done
    IFS=$old_ifs
    set +f
elif [ -n "$shell" ] && { [ ! -f "$shell" ] || [ ! -x "$shell" ]; }; then
    refuse "the login shell $shell does not exist on this PC (install it there, or choose another account.shell)"
fi

# A decimal number of at most 9 digits without leading zeros (sh arithmetic reads 010 as octal).
is_num() {
    case $1 in ''|*[!0-9]*|0?*|??????????*) return 1 ;; esac
    return 0
}
is_num "$min_uid" || refuse "invalid min_uid"

# outside_ranges: raises $new_id past every range of $ranges ("name:first:count" lines) it falls in.
outside_ranges() {
    moved=true
    while [ "$moved" = true ]; do
        moved=false
        IFS=$nl
        set -f
        for r in $ranges; do
            IFS=:
            set -- $r
            IFS=$nl
            is_num "${2:-}" && is_num "${3:-}" || continue
            if [ "$new_id" -ge "$2" ] && [ "$new_id" -lt $(($2 + $3)) ]; then new_id=$(($2 + $3)); moved=true; fi
        done
        IFS=$old_ifs
        set +f
    done
}

# A path as a find -path pattern that matches only itself.
glob_quote() {
    case $1 in
        *[][*?\\]*) printf '%s' "$1" | sed 's/[][*?\\]/\\&/g' ;;
        *) printf '%s' "$1" ;;
    esac
}

# Every account once (name:x:uid:gid:...), from one `getent passwd`; read again after the changes.
passwd=$(getent passwd 2>/dev/null)
# pw_entry NAME: NAME's uid, gid, comment and home as $passwd has them, into pw_uid, pw_gid,
# pw_gecos and pw_home (all empty when it has no such account); no process started (a
# `getent | cut` per field per account added up to 6% of a renewal's CPU).
pw_entry() {
    pw_uid="" pw_gid="" pw_gecos="" pw_home=""
    IFS=$nl
    set -f
    for entry in $passwd; do
        case $entry in
            "$1":*) IFS=:; set -- $entry; pw_uid=${3:-} pw_gid=${4:-} pw_gecos=${5:-} pw_home=${6:-}; break ;;
        esac
    done
    IFS=$old_ifs
    set +f
}

# 1. Check every account to delete before touching any. Adopted accounts (`account.adopt`, opt-in) were
#    not made by rdplay, so they lack the mark; every other rule holds for them too.
# The paths the leftover walk never enters: kernel filesystems, container storage (its files belong to
# the containers' users, whatever their numbers) and, appended below, the homes of the accounts to
# delete (userdel -r removes those).
skip="/proc$nl/sys$nl/dev$nl/var/lib/docker$nl/var/lib/containers$nl/var/lib/lxc$nl/var/lib/lxd$nl/var/lib/incus$nl/var/lib/machines$nl"
luids=""
for u in $deletes $adopts; do
    valid_name "$u" || refuse "invalid account name"
    [ "$u" = root ] && refuse "$u is root"
    pw_entry "$u"
    uid=$pw_uid
    [ -z "$uid" ] && continue
    case $uid in *[!0-9]*) refuse "$u has a non-numeric uid" ;; esac
    [ "$uid" -lt 1000 ] && refuse "$u has uid $uid < 1000"
    [ "$uid" -ge 60000 ] && refuse "$u has uid $uid >= 60000 (a system account)"
    # What the account owns is found by its uid: another account with the same uid would lose its files.
    IFS=$nl
    set -f
    for entry in $passwd; do
        IFS=:
        set -- $entry
        IFS=$nl
        [ "${3:-}" = "$uid" ] && [ "$1" != "$u" ] && refuse "$u shares uid $uid with the account $1"
    done
    IFS=$old_ifs
    set +f
    luids="$luids $uid"
    home=$pw_home
    case $home in /?*) skip="$skip$(glob_quote "$home")$nl" ;; esac
    # The home is gone after the deletion, or the PC fails (when it was a directory of the account's).
    eval "home_owned_$uid=false"
    case $home in
        /) ;;
        /?*) if [ -d "$home" ] && [ ! -L "$home" ] && [ -n "$(find "$home" -maxdepth 0 -user "$uid" 2>/dev/null)" ]; then
            eval "home_owned_$uid=true"
        fi ;;
    esac
    # Only accounts this helper created may go: an inventory that names a human's account cannot make
    # rdplay delete it. Root's record says which (name and uid); a PC without one yet (renewed by an
    # rdplay before the record) has only the comment field's mark.
    case " $adopts " in *" $u "*) continue ;; esac
    if [ -e "$record" ] || [ -L "$record" ] || [ -L "$state" ]; then
        [ -f "$record" ] && [ ! -L "$record" ] && [ ! -L "$state" ] || refuse "$record is not a regular file"
        capped "$record" 1048576
        case "$nl$v$nl" in
            *"$nl$u $uid$nl"*) ;;
            *) refuse "$u (uid $uid) was not created by rdplay on this PC (it is not in $record)" ;;
        esac
    else
        case $pw_gecos in
            "$mark"*) ;;
            *) refuse "$u was not created by rdplay (this PC has no $record, and its comment field lacks the \"$mark\" mark)" ;;
        esac
    fi
done
if [ -n "$luids" ]; then
    find / -maxdepth 0 -printf '' >/dev/null 2>&1 ||
        refuse "find cannot look for the files the old account left (GNU findutils' find is needed)"
fi
if [ "$mode" = renew ]; then
    valid_name "$create" || refuse "invalid new account name"
    [ -n "$(uid_of "$create")" ] && refuse "$create already exists and is not an account rdplay recorded for this PC"
    [ -n "$(getent group "$create")" ] && refuse "a group named $create already exists"
    # An existing directory would become the new account's home with whatever it holds (useradd -m
    # takes it as it is, busybox's adduser gives it to the account) and an undo would remove it:
    # refused before anything changes, whatever the tools.
    if [ -e "$home_base/$create" ] || [ -L "$home_base/$create" ]; then
        refuse "$home_base/$create already exists: it cannot become the home of $create"
    fi
    case $hash in '$'*) ;; *) refuse "missing password hash" ;; esac
    case $shell in /?*) ;; *) refuse "missing login shell" ;; esac

    # The new account's uid, also its group's gid: above every uid and gid this PC shows (read before
    # anything is deleted) and above every uid rdplay gave on it (min_uid), within UID_MIN..UID_MAX and
    # GID_MIN..GID_MAX of /etc/login.defs: a uid once used on a PC is never given again, so nothing
    # the old account left behind can become the new one's.
    uid_lo=1000 uid_hi=60000 gid_lo=1000 gid_hi=60000
    capped /etc/login.defs 65536
    IFS=$nl
    set -f
    for l in $v; do
        IFS=" 	"
        set -- $l
        IFS=$nl
        is_num "${2:-}" || continue
        case $1 in
            UID_MIN) uid_lo=$2 ;;
            UID_MAX) uid_hi=$2 ;;
            GID_MIN) gid_lo=$2 ;;
            GID_MAX) gid_hi=$2 ;;
        esac
    done
    IFS=$old_ifs
    set +f
    # Above the highest uid rdplay ever gave here, kept by root on the PC.
    capped "$high" 16
    is_num "$v" && [ "$v" -ge "$min_uid" ] && min_uid=$((v + 1))
    new_id=1000
    for n in "$min_uid" "$uid_lo" "$gid_lo"; do [ "$n" -gt "$new_id" ] && new_id=$n; done
    IFS=$nl
    set -f
    for entry in $passwd $(getent group 2>/dev/null); do
        IFS=:
        set -- $entry
        IFS=$nl
        is_num "${3:-}" || continue
        [ "$3" -ge 1000 ] && [ "$3" -lt 60000 ] && [ "$3" -ge "$new_id" ] && new_id=$(($3 + 1))
    done
    IFS=$old_ifs
    set +f
    id_max=59999
    for n in "$uid_hi" "$gid_hi"; do [ "$n" -lt "$id_max" ] && id_max=$n; done
    # The ranges of /etc/subuid and /etc/subgid ("name:first:count") belong to other accounts'
    # containers: the new id lies in none of them.
    capped /etc/subuid 1048576
    ranges=$v
    capped /etc/subgid 1048576
    ranges="$ranges$nl$v"
    outside_ranges
    [ "$new_id" -gt "$id_max" ] && refuse "no uid left for $create: it must be above every uid this PC has used (that is $new_id) and at most $id_max (UID_MAX and GID_MAX in /etc/login.defs)"
fi

# The leftover walk: what the accounts own outside their homes, by uid, on the PC's own permanent local
# filesystems, each walked within itself (-xdev) from its mount point, in $roots (newline-separated):
# the root filesystem; those /etc/fstab lists as local and mounted at boot (a line with noauto, user or
# users is a removable disk's); and the tmpfs of /tmp, /var/tmp, /dev/shm and /run/user (/dev/shm also
# when it is only a directory of /dev). Never a filesystem mounted at run time (udisks under /media or
# /run/media, anything fstab does not list: a visitor's USB disk carries files of the same numbers),
# never one on a removable or USB device, never a network, FUSE, kernel or container filesystem. A
# filesystem mounted twice is walked once.
walk_roots() {
    roots="" seen=" " listed=""
    [ -r /proc/self/mountinfo ] || { roots="/$nl"; return; }
    capped /etc/fstab 65536
    IFS=$nl
    set -f
    for l in $v; do
        IFS=" 	"
        set -- $l
        IFS=$nl
        case ${1:-#} in '#'*) continue ;; esac
        [ $# -ge 3 ] || continue
        case ,${4:-defaults}, in *,noauto,*|*,user,*|*,users,*) continue ;; esac
        mp=$2
        case $mp in *\\*) mp=$(printf '%b' "$mp") ;; esac
        listed="$listed$mp$nl"
    done
    IFS=$old_ifs
    set +f
    while read -r _ _ dev root mp rest; do
        fs=${rest#* - }
        fs=${fs%% *}
        case $mp in *\\*) mp=$(printf '%b' "$mp") ;; esac
        case $mp in *"$nl"*) continue ;; esac
        case $fs in
            tmpfs) case $mp in /tmp|/var/tmp|/dev/shm|/run/user|/run/user/*) ;; *) continue ;; esac ;;
            ext2|ext3|ext4|xfs|btrfs|f2fs|jfs|reiserfs|nilfs2|zfs|bcachefs|overlay)
                case $mp in
                    /) ;;
                    *) case $nl$listed in *"$nl$mp$nl"*) ;; *) continue ;; esac ;;
                esac
                case $mp in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/media|/media/*|/run/media|/run/media/*) continue ;; esac
                case $mp in /var/lib/docker/*|/var/lib/containers/*|/var/lib/lxc/*|/var/lib/lxd/*|/var/lib/incus/*|/var/lib/machines/*) continue ;; esac
                removable_dev "$dev" && continue ;;
            *) continue ;;
        esac
        if [ "$root" = / ]; then key=$dev; else key="$dev:$root"; fi
        case $seen in *" $key "*|*" $dev "*) continue ;; esac
        # (A mount point mounted over again is walked once, through what is on top.)
        case $nl$roots in *"$nl$mp$nl"*) continue ;; esac
        seen="$seen$key "
        roots="$roots$mp$nl"
    done </proc/self/mountinfo
    case $nl$roots in
        *"$nl/dev/shm$nl"*) ;;
        *) if [ -d /dev/shm ] && [ ! -L /dev/shm ]; then roots="$roots/dev/shm$nl"; fi ;;
    esac
}

# removable_dev MAJ:MIN: whether the block device is removable or on USB (sysfs says so).
removable_dev() {
    [ -e "/sys/dev/block/$1" ] || return 1
    d=$(readlink -f "/sys/dev/block/$1") || return 1
    case $d in */usb[0-9]*|*/usb/*) return 0 ;; esac
    for r in "$d/removable" "${d%/*}/removable"; do
        if [ -r "$r" ]; then { IFS= read -r rm_flag <"$r"; } 2>/dev/null; [ "${rm_flag:-0}" = 1 ] && return 0; fi
    done
    return 1
}

# leftovers count|delete|list: walks once (never following a symlink, never entering $skip), counting
# per uid of $luids the files (anything but a directory) and their bytes into $tally ("uid files bytes"
# lines); `delete` removes each file from within its own directory (find -execdir: a path swapped
# for a symlink meanwhile cannot redirect it), then removes the accounts' directories that are empty
# (a directory holding anyone else's file stays, with that file), and notes in $owner_max the highest
# uid of 1000-59999 that owns any other file there (an account deleted before rdplay came leaves
# files whose number no new account may get); `list` writes the files' paths to stdout, each followed
# by a NUL, instead of counting.
leftovers() {
    lmode=$1
    walk_roots
    IFS=$nl
    set -f
    set -- $roots -xdev \(
    sep=""
    for p in $skip; do
        set -- "$@" $sep -path "$p"
        sep=-o
    done
    IFS=$old_ifs
    if [ "$lmode" = list ]; then
        set -- "$@" \) -prune -o \(
        sep=""
        for id in $luids; do
            set -- "$@" $sep -user "$id"
            sep=-o
        done
        set -- "$@" \) ! -type d -print0
        set +f
        find "$@" 2>/dev/null
        return 0
    fi
    set -- "$@" \) -prune -o -uid +999 -uid -60000 \( \(
    sep=""
    for id in $luids; do
        set -- "$@" $sep -user "$id"
        sep=-o
    done
    [ -n "$luids" ] || set -- "$@" -false
    set -- "$@" \) \( -type d -printf 'd %U 0\n' -o -printf 'f %U %s\n'
    [ "$lmode" = delete ] && set -- "$@" -execdir rm -f -- {} +
    set -- "$@" \)
    [ "$lmode" = delete ] && set -- "$@" -o -printf 'o %U\n'
    set -- "$@" \)
    set +f
    # awk sums in floating point: exact up to 2^53 bytes.
    tally=$(find "$@" 2>/dev/null | awk '
        $1 == "f" { f[$2]++; b[$2] += $3 }
        $1 == "d" { d[$2]++ }
        $1 == "o" && $2 + 0 > m { m = $2 + 0 }
        END { for (k in f) printf "%s %.0f %.0f\n", k, f[k], b[k]; for (k in d) printf "dirs %s\n", k; printf "max %d\n", m }')
    owner_max=0
    case $nl$tally in *"${nl}max "*) owner_max=${tally##*max }; owner_max=${owner_max%%[!0-9]*} ;; esac
    is_num "$owner_max" || owner_max=0
    [ "$lmode" = delete ] || return 0
    case $tally in dirs*|*"${nl}dirs"*) ;; *) return 0 ;; esac
    IFS=$nl
    set -f
    set -- $roots -xdev \(
    sep=""
    for p in $skip; do
        set -- "$@" $sep -path "$p" -o -path "$p/*"
        sep=-o
    done
    IFS=$old_ifs
    set -- "$@" \) -o \(
    sep=""
    for id in $luids; do
        set -- "$@" $sep -user "$id"
        sep=-o
    done
    set -- "$@" \) -type d -empty -delete
    set +f
    find "$@" >/dev/null 2>&1
    return 0
}

# Files and bytes of uid $want in $tally, into $lf and $lb.
tally_of() {
    lf=0 lb=0
    IFS=$nl
    set -f
    for t in $tally; do
        IFS=' '
        set -- $t
        [ "$1" = "$want" ] && [ $# -eq 3 ] && { lf=$2; lb=$3; }
    done
    IFS=$old_ifs
    set +f
}

# Ends what runs on the account's behalf without a session: its crontab, at jobs and print jobs (each
# only where its tool is installed; the files the walk finds anyway).
end_jobs() {
    if command -v crontab >/dev/null 2>&1; then crontab -r -u "$1" >/dev/null 2>&1; fi
    if command -v atq >/dev/null 2>&1 && command -v atrm >/dev/null 2>&1; then
        atq 2>/dev/null | while read -r job rest; do
            case " $rest" in *" $1") atrm "$job" >/dev/null 2>&1 ;; esac
        done
    fi
    if command -v cancel >/dev/null 2>&1; then
        timeout 20 cancel -u "$1" >/dev/null 2>&1
    elif command -v lprm >/dev/null 2>&1; then
        timeout 20 lprm -U "$1" - >/dev/null 2>&1
    fi
}

# lock_account NAME: no login, no cron or at session from now on, even with a key: the password is
# locked and the account expired (sshd and PAM's account check refuse an expired account).
lock_account() {
    if [ "$accounts" = shadow ] && command -v usermod >/dev/null 2>&1; then
        usermod -L -e 1 "$1" >/dev/null 2>&1 && return 0
    fi
    [ -f /etc/shadow ] || return 0
    db_lock
    awk -F: -v OFS=: -v n="$1" '$1 == n && NF >= 8 { if ($2 !~ /^!/) $2 = "!" $2; $8 = 1 } { print }' /etc/shadow |
        db_replace /etc/shadow
}

# alive UID: whether any process runs with that uid (real or effective).
alive() { pgrep -U "$1" >/dev/null 2>&1 || pgrep -u "$1" >/dev/null 2>&1; }

# kill_uid UID GID NAME: kills every process of the uid until none is left. As that uid, one
# `kill -KILL -1` reaches all of them in one kill(2) (the kernel holds off new forks meanwhile), so a
# process that forks without end cannot outrun it; without setpriv or chpst, pkill, again and again.
kill_uid() {
    tries=0
    while alive "$1"; do
        if [ -n "$drop" ]; then
            as_uid "$1" "$2" sh -c 'kill -KILL -1' >/dev/null 2>&1
        else
            pkill -KILL -U "$1" >/dev/null 2>&1
            pkill -KILL -u "$1" >/dev/null 2>&1
        fi
        tries=$((tries + 1))
        [ $tries -gt 50 ] && fail "processes of $3 survive SIGKILL"
        sleep 0.1
    done
}

# stop_account NAME UID GID: nothing of the account runs or starts any more, before any of its files is
# read or removed. Its jobs first (crontab, at and print jobs; where systemd runs the PC, lingering,
# then its user manager with its services and timers, and its sessions), then its logins (locked and
# expired), then its processes (the user's slice where systemd runs the PC, then as above).
stop_account() {
    end_jobs "$1"
    if [ "$systemd" = true ]; then
        # No lingering (its user manager would start again at boot), no user manager (its services
        # and timers, even those set to restart, end with it), no session.
        loginctl disable-linger "$1" >/dev/null 2>&1
        rm -f "/var/lib/systemd/linger/$1"
        # (A user manager that will not stop within 30 s is killed with the rest below.)
        timeout 30 systemctl stop "user@$2.service" >/dev/null 2>&1
        loginctl terminate-user "$1" >/dev/null 2>&1
        systemctl kill --signal=KILL "user-$2.slice" >/dev/null 2>&1
    elif command -v loginctl >/dev/null 2>&1; then
        loginctl terminate-user "$1" >/dev/null 2>&1
    fi
    lock_account "$1" || fail "locking $1 failed"
    kill_uid "$2" "$3" "$1"
}

# detach_under DIR: lazily detaches every mount at or below DIR, the deepest first (a dead FUSE mount, a
# bind mount: either would keep the home, or what lies behind it, from being removed); fails when one
# stays.
detach_under() {
    under=""
    while read -r _ _ _ _ mp _; do
        case $mp in *\\*) mp=$(printf '%b' "$mp") ;; esac
        case $mp in "$1"|"$1"/*) under="$mp$nl$under" ;; esac
    done </proc/self/mountinfo
    [ -n "$under" ] || return 0
    IFS=$nl
    set -f
    for mp in $under; do
        umount -l -- "$mp" >/dev/null 2>&1 || umount -l "$mp" >/dev/null 2>&1 || { IFS=$old_ifs; set +f; fail "the mount $mp inside the home $1 cannot be detached"; }
    done
    IFS=$old_ifs
    set +f
}

# Archive mode: one account's home (every entry in it that the account can read: userdel -r removes
# them all) and the files it owns elsewhere, as one gzip'd tar on stdout (gzip -1: 2-3 times faster than
# the default level for a few percent more bytes). The account is stopped first (stop_account: it stays
# locked if the renewal goes no further), then its files are read as the account itself: a path it
# swapped for a symlink can lead only where it could read anyway, never to root's files. Files that
# vanish or cannot be read are left out (tar --ignore-failed-read), sparse files stay sparse. tar gets
# an explicit list and never recurses, so a human's file inside a directory the account owns stays out
# of it. The controller bounds its size and time.
if [ "$mode" = archive ]; then
    set -- $deletes $adopts
    [ $# -eq 1 ] || refuse "archive mode takes one account"
    [ -n "$luids" ] || refuse "$1 is not on this PC: nothing to archive"
    command -v tar >/dev/null 2>&1 && command -v gzip >/dev/null 2>&1 ||
        refuse "tar and gzip are needed to archive $1"
    [ -n "$drop" ] || refuse "setpriv (util-linux) or busybox's chpst is needed to read the files of $1 as $1"
    pw_entry "$1"
    home=$pw_home a_uid=$pw_uid a_gid=$pw_gid
    stop_account "$1" "$a_uid" "$a_gid"
    errors=$(mktemp) || fail "mktemp failed"
    {
        case $home in /?*) if [ -d "$home" ] && [ ! -L "$home" ]; then as_uid "$a_uid" "$a_gid" find "$home" -xdev -print0 2>/dev/null; fi ;; esac
        leftovers list
    } | as_uid "$a_uid" "$a_gid" tar -c -I "gzip -1" -f - --null --no-recursion --ignore-failed-read --sparse -T - 2>"$errors"
    rc=$?
    # tar's notice that it stores paths relative is not a problem worth reporting.
    grep -v "Removing leading" "$errors" >&2
    rm -f "$errors"
    exit $rc
fi

# 2. Stop the accounts (renew: their jobs, logins and processes) and remove (renew) or count (probe)
#    what they own outside their homes; then choose the new uid above every owner of a file; then
#    delete the accounts (renew), each stopped again just before.
deleted="" absent="" present="" tally=""
for u in $deletes $adopts; do
    pw_entry "$u"
    uid=$pw_uid
    if [ -z "$uid" ]; then absent="$absent$(js "$u")," ; continue; fi
    case $uid in *[!0-9]*) fail "$u changed under the helper" ;; esac
    procs=$(pgrep -u "$u" 2>/dev/null | wc -l)
    eval "procs_$uid=\$((procs + 0))"
    [ "$mode" = renew ] || continue
    stop_account "$u" "$uid" "$pw_gid"
done
owner_max=0
if [ "$mode" = renew ]; then
    leftovers delete
    # No uid that owns a file on the PC's own filesystems (an orphan's included) is given again.
    if [ "$owner_max" -ge "$new_id" ]; then
        new_id=$((owner_max + 1))
        outside_ranges
        [ "$new_id" -gt "$id_max" ] && fail "no uid left for $create: files of uid $owner_max are on this PC, and uids go up to $id_max"
    fi
elif [ -n "$luids" ]; then
    leftovers count
else
    walk_roots
fi
for u in $deletes $adopts; do
    # (Each account's own line is as $passwd read it: those deleted before it in this loop are others.)
    pw_entry "$u"
    uid=$pw_uid
    [ -n "$uid" ] || continue
    eval "procs=\${procs_$uid:-0}"
    home=$pw_home
    want=$uid
    tally_of
    present="$present{\"name\":$(js "$u"),\"home\":$(js "$home"),\"processes\":$(num "$procs"),\"leftover_files\":$(num "$lf"),\"leftover_bytes\":$(num "$lb")},"
    [ "$mode" = renew ] || continue
    # Nothing of it runs, and nothing is mounted in its home, as it goes.
    kill_uid "$uid" "$pw_gid" "$u"
    case $home in /?*) detach_under "$home" ;; esac
    if [ "$accounts" = shadow ]; then
        userdel -r "$u" >/dev/null 2>&1
        rc=$?
        # 12: the home directory could not be removed (checked below); the account is gone.
        [ $rc -ne 0 ] && [ $rc -ne 12 ] && fail "userdel $u exited with $rc"
        [ -n "$(uid_of "$u")" ] && fail "$u still exists after userdel"
    else
        # busybox's deluser, or the files: the account leaves passwd, shadow and every group's
        # members; its home (when the account owns it, as userdel -r would find it) and its own group
        # go separately.
        gid=$pw_gid
        if [ "$accounts" = busybox ]; then
            busybox deluser "$u" >/dev/null 2>&1 || fail "busybox deluser $u failed"
        else
            db_lock
            # The shadow line (its hash) first: from then on the account cannot log in.
            db_drop /etc/shadow "$u" && db_drop /etc/passwd "$u" || fail "removing $u from /etc/shadow and /etc/passwd failed"
            db_unmember /etc/group "$u" && db_unmember /etc/gshadow "$u" || fail "removing $u from the groups failed"
        fi
        [ -n "$(uid_of "$u")" ] && fail "$u still exists after its deletion"
        g=$(getent group "$u")
        if [ -n "$g" ] && [ "$(printf '%s' "$g" | cut -d: -f3)" = "$gid" ]; then
            if [ "$accounts" = busybox ]; then
                busybox delgroup "$u" >/dev/null 2>&1 || fail "busybox delgroup $u failed"
            else
                db_drop /etc/group "$u" && db_drop /etc/gshadow "$u" || fail "removing the group $u failed"
            fi
        fi
    fi
    # The home is gone, or the PC fails: whatever userdel left of it (or busybox and the files never
    # remove) goes now, within its own filesystem; what still stands is reported.
    eval "owned=\${home_owned_$uid:-false}"
    if [ "$owned" = true ]; then
        if [ -e "$home" ] && [ ! -L "$home" ]; then rm -rf --one-file-system -- "$home" 2>/dev/null; fi
        if [ -e "$home" ] || [ -L "$home" ]; then
            fail "the home $home of $u survived its deletion (the account is gone; remove what is left of it by hand)"
        fi
    fi
    if [ -f "$record" ]; then record_put "$u" || fail "removing $u from $record failed"; fi
    deleted="$deleted$(js "$u"),"
done

# 3. Create the new account with its own group, both numbered new_id; the hash goes to chpasswd on
#    stdin (printf is a shell builtin).
created_uid=""
if [ "$mode" = renew ]; then
    # Root's record names the account before it exists (a helper killed in between leaves a line for an
    # account that is not there: harmless), and the uid is never given again here.
    record_put "$create" "$new_id" && high_put "$new_id" || fail "writing $record failed"
fi
if [ "$mode" = renew ] && [ "$accounts" = shadow ]; then
    groupadd -g "$new_id" "$create" >/dev/null 2>&1 || fail "groupadd -g $new_id $create failed"
    set -- -m -d "$home_base/$create" -s "$shell" -c "$mark" -u "$new_id" -g "$new_id"
    [ -n "$groups" ] && set -- "$@" -G "$groups"
    useradd "$@" "$create" >/dev/null 2>&1 || { groupdel "$create" >/dev/null 2>&1; fail "useradd -u $new_id $create failed"; }
    printf '%s:%s\n' "$create" "$hash" | chpasswd -e >/dev/null 2>&1 || { userdel -r "$create" >/dev/null 2>&1; groupdel "$create" >/dev/null 2>&1; fail "chpasswd failed"; }
    hash=""
    created_uid=$new_id
elif [ "$mode" = renew ] && [ "$accounts" = files ]; then
    # The files: the same account (its group, passwd and shadow lines, supplementary groups, a home
    # from /etc/skel), the group first and the shadow line (with the hash, written by printf, a shell
    # builtin) last but one, the home last. Undone on any failure.
    db_lock
    undo() {
        for f in /etc/shadow /etc/passwd /etc/group /etc/gshadow; do db_drop "$f" "$create"; done
        db_unmember /etc/group "$create"
        db_unmember /etc/gshadow "$create"
        rm -rf --one-file-system -- "$home_base/$create"
    }
    for g in $(printf '%s' "$groups" | tr , ' '); do
        [ -n "$(getent group "$g")" ] || fail "the group $g does not exist on this PC"
    done
    { cat /etc/group && printf '%s:x:%s:\n' "$create" "$new_id"; } | db_replace /etc/group || { undo; fail "adding the group $create failed"; }
    if [ -f /etc/gshadow ]; then
        { cat /etc/gshadow && printf '%s:!::\n' "$create"; } | db_replace /etc/gshadow || { undo; fail "adding the group $create to gshadow failed"; }
    fi
    { cat /etc/passwd && printf '%s:x:%s:%s:%s:%s:%s\n' "$create" "$new_id" "$new_id" "$mark" "$home_base/$create" "$shell"; } |
        db_replace /etc/passwd || { undo; fail "adding $create to /etc/passwd failed"; }
    for g in $(printf '%s' "$groups" | tr , ' '); do
        db_member /etc/group "$g" "$create" && db_member /etc/gshadow "$g" "$create" || { undo; fail "adding $create to the group $g failed"; }
    done
    { cat /etc/shadow && printf '%s:%s:%s:0:99999:7:::\n' "$create" "$hash" "$(($(date +%s) / 86400))"; } |
        db_replace /etc/shadow || { undo; fail "adding $create to /etc/shadow failed"; }
    hash=""
    mkdir -p -- "$home_base" && mkdir -m 0700 -- "$home_base/$create" || { undo; fail "making the home of $create failed"; }
    if [ -d /etc/skel ]; then cp -a /etc/skel/. "$home_base/$create/" 2>/dev/null; fi
    chown -R "$new_id:$new_id" "$home_base/$create" && chmod 0700 "$home_base/$create" ||
        { undo; fail "giving $create its home failed"; }
    [ "$(uid_of "$create")" = "$new_id" ] || { undo; fail "$create is not uid $new_id after its creation"; }
    created_uid=$new_id
elif [ "$mode" = renew ]; then
    # busybox: the same account (group, uid, gid, comment, home, shell, groups), locked (-D) until
    # chpasswd -e sets its hash. Undone on any failure, so that no half-made account stays. adduser
    # makes the home 2755 and says nothing when it cannot: the helper checks it and makes it 0700 (a
    # numeric chmod keeps a directory's setgid bit: g-s clears it).
    home="$home_base/$create"
    undo() { busybox deluser "$create" >/dev/null 2>&1; busybox delgroup "$create" >/dev/null 2>&1; rm -rf --one-file-system -- "$home"; }
    mkdir -p -- "$home_base" || fail "making $home_base failed"
    busybox addgroup -g "$new_id" "$create" >/dev/null 2>&1 || fail "busybox addgroup -g $new_id $create failed"
    busybox adduser -D -h "$home" -s "$shell" -g "$mark" -u "$new_id" -G "$create" "$create" >/dev/null 2>&1 ||
        { undo; fail "busybox adduser -u $new_id $create failed"; }
    [ -d "$home" ] && [ ! -L "$home" ] && [ "$(stat -c %u:%g "$home")" = "$new_id:$new_id" ] &&
        chmod 0700 "$home" && chmod g-s "$home" ||
        { undo; fail "busybox adduser did not give $create its home $home"; }
    IFS=,
    set -f
    for g in $groups; do
        busybox addgroup "$create" "$g" >/dev/null 2>&1 || { IFS=$old_ifs; set +f; undo; fail "busybox addgroup $create $g failed"; }
    done
    IFS=$old_ifs
    set +f
    printf '%s:%s\n' "$create" "$hash" | busybox chpasswd -e >/dev/null 2>&1 || { undo; fail "busybox chpasswd -e failed"; }
    hash=""
    [ "$(uid_of "$create")" = "$new_id" ] || { undo; fail "busybox adduser did not give $create uid $new_id"; }
    created_uid=$new_id
fi

# 4. Facts, read with the shell's own `read` wherever a file holds them (a process per fact adds up over
#    a fleet). Every value is capped and made inert again on the controller.
# first_line FILE: its first line in $v (empty when unreadable).
# The kernel's files (/proc, /sys) are read with `read` (they are at most a page); any other file
# through capped, so that one huge line costs a short read, not the step timeout.
first_line() {
    v=""
    case $1 in
        /proc/*|/sys/*) if [ -r "$1" ]; then { IFS= read -r v <"$1"; } 2>/dev/null; fi ;;
        *) capped "$1" 4096; v=${v%%"$nl"*} ;;
    esac
}
os=""
capped /etc/os-release 16384
IFS=$nl
set -f
for l in $v; do
    case $l in PRETTY_NAME=*) os=${l#PRETTY_NAME=}; os=${os#[\"\']}; os=${os%[\"\']}; break ;; esac
done
IFS=$old_ifs
set +f
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
# The login shell of the account created, as the account database has it now.
created_shell=""
if [ -n "$created_uid" ]; then
    IFS=$nl
    set -f
    for entry in $passwd; do
        case $entry in "$create":*) IFS=:; set -- $entry; created_shell=${7:-}; break ;; esac
    done
    IFS=$old_ifs
    set +f
fi
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

# The filesystems the leftover walk covers (or covered).
walked=""
IFS=$nl
set -f
for r in $roots; do walked="$walked$(js "$r"),"; done
IFS=$old_ifs
set +f

printf '{"mode":%s,"tools":{"accounts":"%s","systemd":%s},"deleted":[%s],"absent":[%s],"present":[%s],"created":%s,"created_uid":%s,"local":[%s],"walk":[%s],"shells":[%s],"created_shell":%s,"facts":{' \
    "$(js "$mode")" "$accounts" "$systemd" "${deleted%,}" "${absent%,}" "${present%,}" "$(jsn "$create")" "$(num "$created_uid")" "${local%,}" "${walked%,}" "${shells_seen%,}" "$(jsn "$created_shell")"
printf '"hostname":%s,"os":%s,"kernel":%s,"arch":%s,"cpu_model":%s,"cpu_cores":%s,"memory_kib":%s,' \
    "$(js "$(uname -n)")" "$(jsn "$os")" "$(jsn "$kernel")" "$(jsn "$(uname -m)")" "$(jsn "$cpu")" "$(num "$cores")" "$(num "$mem")"
printf '"disks":[%s],"interfaces":[%s],"dmi_vendor":%s,"dmi_model":%s,"dmi_serial":%s,"dmi_uuid":%s,"machine_id":%s,"uptime_seconds":%s,"logged_in":[%s]}}\n' \
    "${disks%,}" "${ifaces%,}" "$(jsn "$dmi_vendor")" "$(jsn "$dmi_model")" "$(jsn "$dmi_serial")" "$(jsn "$dmi_uuid")" "$(jsn "$machine_id")" "$(num "$up")" "${users%,}"
