#!/usr/bin/env bash
# Acceptance check of issue 11, run by hand (it installs packages, so it is not in the test suite):
#
#   "On a third-party FastAPI app that this repo has never seen, every command works as documented,
#    from that app's directory. The harness is installed (not editable) into the app's own venv, and
#    the app's fastapi version is unchanged."
#
# It copies examples/bookshelf to a temporary directory, gives it its own venv with an OLDER fastapi
# and uvicorn than the harness's own CI uses, installs the harness from a clean export of this
# repository's HEAD (a wheel build, not editable) with the extras a user needs, checks that nothing
# the app depends on moved, then runs every command of the issue from the app's directory and
# compares each exit code with the documented one. Exit 0 only if every step did what it should.
#
# Usage: examples/third_party_check.sh            (from anywhere; output on stdout)
# Environment:
#   PYTHON          interpreter for the venv (default python3)
#   APP_FASTAPI     the app's fastapi requirement (default fastapi==0.115.14)
#   APP_UVICORN     the app's uvicorn requirement (default uvicorn[standard]==0.34.3)
#   HARNESS_SRC     git checkout to install the harness from (default: this repository)
#   HARNESS_EXTRAS  extras to install (default: "load" plus "fuzz" when the project declares it)
#   KEEP=1          keep the temporary directory
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HARNESS_SRC=${HARNESS_SRC:-$(cd "$HERE/.." && pwd)}
PYTHON=${PYTHON:-python3}
APP_FASTAPI=${APP_FASTAPI:-fastapi==0.115.14}
APP_UVICORN=${APP_UVICORN:-uvicorn[standard]==0.34.3}
APP_SPEC=bookshelf.app:app
TOKEN_HEADER="X-Token: shelf-token"
WORK=$(mktemp -d /tmp/harness-third-party.XXXXXX)
APP_DIR=$WORK/bookshelf
SERVER_PIDS=()
FAILED=()

cleanup() {
    for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    if [[ "${KEEP:-}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say() { printf '\n### %s\n' "$*"; }

# step EXPECTED CMD...: run CMD from the app's directory, show its output, compare its exit code.
step() {
    local expected=$1; shift
    printf '\n$'; printf ' %q' "$@"; printf '\n'
    (cd "$APP_DIR" && "$@") 2>&1 | sed 's/^/    /' | tail -n 40
    local rc=${PIPESTATUS[0]}
    if [[ "$expected" == any || "$rc" == "$expected" ]]; then
        printf -- '-> exit %s (expected %s) OK\n' "$rc" "$expected"
    else
        printf -- '-> exit %s (expected %s) MISMATCH\n' "$rc" "$expected"
        FAILED+=("$* (exit $rc, expected $expected)")
    fi
    return 0
}

must() { if ! "$@"; then echo "FATAL: $*"; exit 2; fi; }

versions() { "$APP_DIR/.venv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -iE "^($1)==" | sort; }

# start_server VAR DB: a uvicorn server of the app on a free loopback port (uvicorn picks it); its URL
# goes to VAR. Not called in $(...): the server's pid must reach SERVER_PIDS in this shell for cleanup.
start_server() {
    local log=$WORK/server-${#SERVER_PIDS[@]}.log url=""
    (cd "$APP_DIR" && BOOKSHELF_DB=$2 exec .venv/bin/python -m uvicorn "$APP_SPEC" --host 127.0.0.1 --port 0) \
        >"$log" 2>&1 &
    SERVER_PIDS+=($!)
    for _ in $(seq 1 300); do
        url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$log" | head -n1)
        if [[ -n "$url" ]] && curl -fsS -o /dev/null "$url/openapi.json"; then printf -v "$1" '%s' "$url"; return 0; fi
        sleep 0.1
    done
    echo "server did not start:" >&2; cat "$log" >&2; return 1
}

say "machine and sources"
date -u
echo "harness source: $HARNESS_SRC @ $(git -C "$HARNESS_SRC" rev-parse --short HEAD) ($(git -C "$HARNESS_SRC" log -1 --format=%s | cut -c1-90))"
echo "work dir: $WORK"

say "the app: a copy of examples/bookshelf with its own venv and an older fastapi"
must cp -r "$HERE/bookshelf" "$APP_DIR"
rm -rf "$APP_DIR"/*.db "$APP_DIR"/bookshelf/__pycache__
must "$PYTHON" -m venv "$APP_DIR/.venv"
# The team's own set-up: their app (editable, as in development) with the framework versions they chose.
pip_install() { (cd "$APP_DIR" && .venv/bin/python -m pip install -q "$@" 2>&1) | grep -v "is ignored"; return "${PIPESTATUS[0]}"; }
must pip_install -e . "$APP_FASTAPI" "$APP_UVICORN"
APP_PKGS="fastapi|starlette|pydantic|pydantic-core|uvicorn|httptools|uvloop|h11|anyio"
BEFORE=$(versions "$APP_PKGS")
echo "$BEFORE"

say "the harness: a clean export of HEAD, installed as a wheel (not editable)"
mkdir -p "$WORK/harness-src"
git -C "$HARNESS_SRC" archive --format=tar HEAD | tar -x -C "$WORK/harness-src"
must test -f "$WORK/harness-src/pyproject.toml"
EXTRAS=${HARNESS_EXTRAS:-$("$PYTHON" - "$WORK/harness-src/pyproject.toml" <<'EOF'
import sys, tomllib
extras = tomllib.load(open(sys.argv[1], "rb"))["project"].get("optional-dependencies", {})
print(",".join(e for e in ("load", "fuzz") if e in extras))
EOF
)}
echo "extras: [$EXTRAS]"
FREEZE_BEFORE=$("$APP_DIR/.venv/bin/python" -m pip list --format=freeze 2>/dev/null | sort)
must pip_install "$WORK/harness-src[$EXTRAS]"
AFTER=$(versions "$APP_PKGS")
FREEZE_AFTER=$("$APP_DIR/.venv/bin/python" -m pip list --format=freeze 2>/dev/null | sort)
echo "packages the harness brought: $(comm -13 <(echo "$FREEZE_BEFORE") <(echo "$FREEZE_AFTER") | wc -l)"
CHANGED=$(comm -13 <(echo "$FREEZE_BEFORE") <(echo "$FREEZE_AFTER") | cut -d= -f1 \
    | grep -ixF -f <(echo "$FREEZE_BEFORE" | cut -d= -f1) || true)
echo "packages it changed: ${CHANGED:-(none)}" | tr '\n' ' '; echo
if [[ "$BEFORE" == "$AFTER" ]]; then
    echo "app framework versions unchanged: OK"
else
    echo "app framework versions CHANGED: MISMATCH"; diff <(echo "$BEFORE") <(echo "$AFTER")
    FAILED+=("installing the harness changed the app's framework versions")
fi
HEAVY=$(echo "$FREEZE_AFTER" | grep -iE "^(asyncpg|redis|opentelemetry-[a-z-]+|argon2-cffi|sqlalchemy|alembic)==" || true)
if [[ -n "$HEAVY" ]]; then
    echo "the reference app's dependencies came along: MISMATCH"; echo "$HEAVY" | sed 's/^/    /'
    FAILED+=("reference-app dependencies installed: $(echo "$HEAVY" | tr '\n' ' ')")
else
    echo "no reference-app dependencies (asyncpg, redis, OpenTelemetry, argon2, SQLAlchemy): OK"
fi
HARNESS_AT=$(cd "$APP_DIR" && .venv/bin/python -c "import harness; print(harness.__file__)")
echo "harness imported from $HARNESS_AT"
if [[ "$HARNESS_AT" != "$APP_DIR/.venv/"* ]]; then FAILED+=("harness is not installed inside the app's venv"); fi
if ls "$APP_DIR"/.venv/lib/python3*/site-packages/__editable__*fastapi_harness* >/dev/null 2>&1; then
    FAILED+=("the harness is installed editable")
fi

export PATH="$APP_DIR/.venv/bin:$PATH"
say "every command, from the app's directory ($APP_DIR)"
step 0 harness --help
step 0 harness init --app "$APP_SPEC"
step 0 cat pyproject.toml
step 0 harness contract export -o exported-openapi.json
step 0 harness contract check
sed -i 's|^@router.delete("/books/{book_id}"|# removed: &|' "$APP_DIR/bookshelf/app.py"
step 1 harness contract check
sed -i 's|^# removed: ||' "$APP_DIR/bookshelf/app.py"
step 0 harness contract check
step 1 harness contract fuzz --app "$APP_SPEC" -H "$TOKEN_HEADER" --max-examples 5
# The planted bug's one-line fix (see the comment in bookshelf/app.py).
sed -i 's|^    pace = pages_per_day$|    pace = pages_per_day or DEFAULT_PAGES_PER_DAY|' "$APP_DIR/bookshelf/app.py"
step 0 harness contract fuzz --app "$APP_SPEC" -H "$TOKEN_HEADER" --max-examples 5
start_server URL_A "$WORK/a.db" || exit 2
start_server URL_B "$WORK/b.db" || exit 2
echo "started $URL_A and $URL_B (pids ${SERVER_PIDS[*]})"
step 0 harness contract fuzz --url "$URL_A" --contract contracts/openapi.json -H "$TOKEN_HEADER" --max-examples 5
step 0 harness load run -f locustfile.py --arm "a=$URL_A" --arm "b=$URL_B" --quick --users 5 -o out/urls
step 0 harness load run -f locustfile.py --app "$APP_SPEC" \
    --arm "a:BOOKSHELF_DB=$WORK/env-a.db,BOOKSHELF_JOURNAL_MODE=wal" \
    --arm "b:BOOKSHELF_DB=$WORK/env-b.db,BOOKSHELF_JOURNAL_MODE=delete" --quick --users 5 -o out/env
step 0 harness gate out/urls/results.json --gates gates.toml
step 0 harness report out/urls/results.json --gates gates.toml -o out/report
step 0 ls out/report
# The configured matrix, as init wrote it: "harness run --quick works right after init".
step 0 harness run --quick -o out/run

say "after: the app's framework versions"
FINAL=$(versions "$APP_PKGS")
echo "$FINAL"
if [[ "$FINAL" != "$BEFORE" ]]; then FAILED+=("the app's framework versions changed during the run"); fi

say "summary"
if ((${#FAILED[@]})); then
    printf 'FAILED: %s\n' "${FAILED[@]}"
    exit 1
fi
echo "every step did what it should"
