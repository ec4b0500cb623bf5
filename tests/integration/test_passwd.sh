#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_passwd.sh - `cairn passwd` end to end: create, add, update, delete,
# the exact file format (each hash re-derived with Python's hashlib), mode
# 0600, lines of other users and comments kept byte for byte (including a
# file written by mosquitto_passwd), the password from stdin and from a
# terminal prompt without echo (Python's pty), and every error message
# with its exit code.  Uses no network and starts no server.
set -euo pipefail

SRC=${CAIRN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${CAIRN_BIN:-$SRC/build/debug/cairn}
[ -x "$BIN" ] || { echo "FAIL: no executable at $BIN (set CAIRN_BIN)" >&2; exit 1; }

# shellcheck source=lib.sh
source "$SRC/tests/integration/lib.sh" passwd

run() { # run CMD...: sets $out, $err, $rc
    rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
expect() { # expect RC STDERR DESCRIPTION
    [ "$rc" = "$1" ] || fail "$3: exit code $rc, want $1 (stderr: $err)"
    [ "$err" = "$2" ] || fail "$3: stderr
  got:  $err
  want: $2"
    ok "$3"
}

# check_hash FILE USER PASSWORD ITERATIONS: USER's line is exactly
# user:$pbkdf2-sha512$i=N$<22 b64>$<86 b64> and derives from PASSWORD.
check_hash() {
    python3 - "$@" <<'EOF' || fail "hash of $2 in $1 does not verify"
import base64, hashlib, re, sys
path, user, pw, iters = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = [l for l in open(path, "rb").read().split(b"\n") if l.startswith(user.encode() + b":")]
assert len(lines) == 1, lines
m = re.fullmatch(rb"[^:]+:\$pbkdf2-sha512\$i=(\d+)\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{86})", lines[0])
assert m, lines[0]
assert int(m.group(1)) == iters
salt = base64.b64decode(m.group(2) + b"==")
want = base64.b64decode(m.group(3) + b"==")
assert len(salt) == 16 and len(want) == 64
assert hashlib.pbkdf2_hmac("sha512", pw.encode(), salt, iters) == want
EOF
}

pw=$tmp/pw
usage='Usage: cairn passwd [-I ITERATIONS] [-c] FILE USER
       cairn passwd [-I ITERATIONS] [-c] -b FILE USER PASSWORD
       cairn passwd -D FILE USER'

# ------------------------------------------------------------ create, add
run "$BIN" passwd -c -b -I 1000 "$pw" alice 'correct horse'
expect 0 "" "create with -c -b"
[ "$(stat -c %a "$pw")" = 600 ] || fail "mode $(stat -c %a "$pw"), want 600"
[ "$(wc -l <"$pw")" = 1 ] || fail "want one line"
check_hash "$pw" alice 'correct horse' 1000
ok "file mode 0600, one line, hash verifies with hashlib"

run "$BIN" passwd -b -I 2000 "$pw" bob 'b0b:pw with spaces'
expect 0 "" "add a second user"
check_hash "$pw" bob 'b0b:pw with spaces' 2000
alice_line=$(sed -n 1p "$pw")
[ "$(sed -n 2p "$pw" | cut -d: -f1)" = bob ] || fail "bob is not appended as line 2"

umask 022
printf 'carol-pw\n' | "$BIN" passwd -I 1000 "$pw" carol 2>"$tmp/err" || fail "stdin password: $(cat "$tmp/err")"
check_hash "$pw" carol carol-pw 1000
ok "password from stdin when it is not a terminal"

# ------------------------------------------------------------ update, delete
before_bob=$(sed -n 2p "$pw")
run "$BIN" passwd -b -I 1000 "$pw" alice 'new secret'
expect 0 "" "update in place"
[ "$(sed -n 2p "$pw")" = "$before_bob" ] || fail "bob's line changed"
[ "$(sed -n 1p "$pw")" != "$alice_line" ] || fail "alice's line did not change"
[ "$(sed -n 1p "$pw" | cut -d: -f1)" = alice ] || fail "alice moved"
check_hash "$pw" alice 'new secret' 1000
[ "$(stat -c %a "$pw")" = 600 ] || fail "mode after update $(stat -c %a "$pw")"
ok "update keeps line order and other lines, mode stays 0600"

run "$BIN" passwd -D "$pw" bob
expect 0 "" "delete"
[ "$(cut -d: -f1 "$pw" | tr '\n' ' ')" = "alice carol " ] || fail "after delete: $(cat "$pw")"
run "$BIN" passwd -D "$pw" bob
expect 1 "cairn: passwd: user 'bob' not found in $pw" "delete of a missing user"
ls "$tmp" | grep -q '^pw\.' && fail "temporary file left behind: $(ls "$tmp")"
ok "no temporary files left"

# ------------------------------------------------ foreign lines are kept
cp "$pw" "$tmp/before"
mosquitto_passwd -b "$pw" mosq 'mosq-pw' 2>/dev/null || fail "mosquitto_passwd failed"
printf '# a comment\n' >>"$pw"
mosq_line=$(grep '^mosq:' "$pw")
run "$BIN" passwd -b -I 1000 "$pw" dave dave-pw
expect 0 "" "add to a file mosquitto_passwd wrote"
want=$(cat "$tmp/before"; echo "$mosq_line"; echo '# a comment'; grep '^dave:' "$pw")
[ "$(cat "$pw")" = "$want" ] || fail "lines not kept: $(cat "$pw")"
ok "mosquitto_passwd's \$7\$ line and the comment are kept byte for byte"

# -------------------------------------------------------- terminal prompt
python3 - "$BIN" "$tmp/tty" <<'EOF' || fail "terminal prompt"
import os, pty, select, sys
binary, path = sys.argv[1], sys.argv[2]
def talk(password2):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(binary, [binary, "passwd", "-c", "-I", "1000", path, "tty-user"])
    seen = b""
    def until(marker):
        nonlocal seen
        while marker not in seen:
            r, _, _ = select.select([fd], [], [], 20)
            assert r, "timed out waiting for %r, got %r" % (marker, seen)
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                chunk = b""
            assert chunk, "EOF waiting for %r, got %r" % (marker, seen)
            seen += chunk
    until(b"Password: ")
    os.write(fd, b"tty-secret\n")
    until(b"Reenter password: ")
    os.write(fd, password2 + b"\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert b"tty-secret" not in seen, "password echoed: %r" % seen
    return os.waitstatus_to_exitcode(status), seen
code, seen = talk(b"tty-secret")
assert code == 0, (code, seen)
code, seen = talk(b"other")
assert code == 1 and b"cairn: passwd: passwords do not match" in seen, (code, seen)
EOF
check_hash "$tmp/tty" tty-user tty-secret 1000
ok "terminal prompt twice without echo; a mismatch exits 1"

# ------------------------------------------------------------ errors
run "$BIN" passwd "$tmp/none" x
expect 1 "cairn: passwd: $tmp/none: No such file or directory (use -c to create it)" \
    "missing file without -c"
printf 'alice:%s\nbroken\n' "$(cut -d: -f2- <<<"$alice_line")" >"$tmp/bad"
cp "$tmp/bad" "$tmp/bad.orig"
run "$BIN" passwd -b "$tmp/bad" u p
expect 1 "cairn: password-file $tmp/bad:2: expected 'username:hash'
cairn: passwd: $tmp/bad is not a valid password file; it was not changed" "broken file refused"
cmp -s "$tmp/bad" "$tmp/bad.orig" || fail "broken file was changed"
run "$BIN" passwd -b "$pw" 'a:b' p
expect 2 "cairn: passwd: bad user name 'a:b' (1 to 65535 bytes of UTF-8 without ':' or control characters)" \
    "user name with ':'"
run "$BIN" passwd -b "$pw" e ''
expect 1 "cairn: passwd: empty password" "empty password"
run "$BIN" passwd "$pw" e
expect 1 "cairn: passwd: no password given" "no password on stdin"
run "$BIN" passwd -c -D "$pw" e
expect 2 "cairn: passwd: -c and -D cannot be used together
$usage" "-c with -D"
run "$BIN" passwd -b "$pw" e
expect 2 "cairn: passwd: -b needs FILE, USER and PASSWORD
$usage" "-b without a password"
run "$BIN" passwd "$pw" e extra
expect 2 "cairn: passwd: unexpected argument 'extra' (use -b to give the password)
$usage" "password without -b"
run "$BIN" passwd -I 999 "$pw" e
expect 2 "cairn: passwd: -I needs an iteration count from 1000 to 100000000
$usage" "-I too small"
run "$BIN" passwd -x "$pw" e
expect 2 "cairn: passwd: unknown option '-x'
$usage" "unknown option"
run "$BIN" passwd
expect 2 "cairn: passwd: needs FILE and USER
$usage" "no arguments"
run "$BIN" passwd -b -I 1000 "$tmp/nodir/pw" u p
expect 1 "cairn: passwd: $tmp/nodir/pw: No such file or directory (use -c to create it)" \
    "file in a missing directory"
run "$BIN" passwd -c -b -I 1000 "$tmp/nodir/pw" u p
expect 1 "cairn: passwd: cannot write $tmp/nodir/pw: No such file or directory" \
    "create in a missing directory"

# The default cost: 210000 iterations.
run "$BIN" passwd -c -b "$tmp/default" u 'p'
expect 0 "" "default iterations"
check_hash "$tmp/default" u p 210000
ok "default hash uses 210000 iterations"

echo "all $checks checks passed"
