# jobdeck-job.sh -- report progress to Jobdeck from a POSIX shell script.
#
# Source it, then call the functions:
#
#     . /path/to/jobdeck-job.sh
#     job_init
#     job_info "copying $n files"
#     i=0
#     for f in ...; do
#         i=$((i + 1))
#         job_progress "$i/$n" "copying $f"      # or: job_progress 42 "message"
#         job_cancelled && job_fail "cancelled"   # Jobdeck asked us to stop
#     done
#     job_complete '{"copied": 12}'              # optional result, raw JSON
#
# Functions
#   job_init                       connect to Jobdeck (call once, first)
#   job_progress PERCENT [MESSAGE]       0-100, integer or decimal (above 100 reads as 100)
#   job_progress CURRENT/TOTAL [MESSAGE] e.g. 12/100; TOTAL 0 means unknown
#   job_info MSG, job_warn MSG, job_error MSG    a line in the job's log
#   job_heartbeat                  say "still alive" (also sent automatically in the background)
#   job_cancelled                  exit status 0 once Jobdeck has asked the job to stop
#   job_complete [RESULT_JSON]     report success (RESULT_JSON is sent as is: make it valid)
#   job_fail MSG [STATUS]          report failure, then exit the script with STATUS (default 1)
#
# How it talks to Jobdeck. Jobdeck gives the script JOBDECK_CHANNEL (a Unix socket),
# JOBDECK_JOB_ID and JOBDECK_TOKEN. A POSIX shell cannot open a Unix socket, so job_init
# starts one small connector in the background and writes newline-delimited JSON to it
# through a FIFO (mkfifo). The connector is the first of these that is installed:
#   python3   (reconnects when Jobdeck restarts, keeps the last 100 messages meanwhile)
#   socat
#   nc        (OpenBSD netcat, which has -U and -N)
# JOBDECK_SH_CONNECTOR=python3|socat|nc|print forces one ("print": never use the socket).
#
# Fallback: with none of them, or when run outside Jobdeck, nothing needs a socket.
# job_progress prints "42% message" or "12/100 message" lines on stdout, which Jobdeck's
# output parser reads as progress for any process job; job_info/job_warn/job_error print
# "info: MSG" etc. on stderr, which lands in the job's log. Heartbeats and cancel requests
# need the socket: without it Jobdeck stops the job with signals only.
#
# job_init installs an EXIT trap that stops the background helpers; if the script needs an
# EXIT trap of its own, call job_cleanup from it. Heartbeats go every
# JOBDECK_HEARTBEAT_INTERVAL seconds (default 10). Needs only a POSIX shell, mkfifo, mktemp,
# date, awk and sleep. Messages are JSON-escaped here (quotes, backslashes, control
# characters); multi-line messages are kept as one log entry.

# shellcheck shell=sh

JOBDECK__MODE=
JOBDECK__DIR=
JOBDECK__CONNECTOR_PID=
JOBDECK__HEARTBEAT_PID=
JOBDECK__DONE=
JOBDECK__STAMPED=

# The python3 connector: stdin lines -> socket (the first line, hello, is replayed after a
# reconnect), each stamped with the time it is sent (the shell writes "timestamp":0, which
# saves job_progress a fork of date); socket lines -> the file $2. Never exits before stdin ends, so writers never
# get SIGPIPE. Single quotes only around it: the code itself uses none.
JOBDECK__PY='
import collections, os, re, socket, sys, threading, time
path, inbox = sys.argv[1], sys.argv[2]
hello, sock, retry_at, delay = None, None, 0.0, 0.05
backlog = collections.deque(maxlen=100)
unstamped = re.compile(rb"\"timestamp\":0(?=[,}])")
def read(s):
    with open(inbox, "ab") as out:
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            out.write(data)
            out.flush()
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(10)
        s.connect(path)
        s.sendall(hello)
    except OSError:
        s.close()
        return None
    threading.Thread(target=read, args=(s,), daemon=True).start()
    return s
for line in sys.stdin.buffer:
    line = unstamped.sub(b"\"timestamp\":%.3f" % time.time(), line, 1)
    if hello is None:
        hello = line
        sock = connect()
        continue
    backlog.append(line)
    if sock is None and time.monotonic() >= retry_at:
        sock = connect()
        if sock is None:
            retry_at, delay = time.monotonic() + delay, min(delay * 2, 5.0)
    if sock is not None:
        try:
            sock.sendall(b"".join(backlog))
            backlog.clear()
            delay = 0.05
        except OSError:
            sock.close()
            sock = None
if sock is not None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
'

# ---------------------------------------------------------------------------- internals

# job__now: sets job__ts to the time in epoch seconds, or 0 when the python3 connector
# stamps each line as it sends it; bash (5+) has the time without a fork.
job__now() {
    [ -n "$JOBDECK__STAMPED" ] && job__ts=0 && return
    case ${EPOCHSECONDS-} in
        '' | *[!0-9]*) job__ts=$(date +%s 2>/dev/null) || job__ts=0 ;;
        *) job__ts=$EPOCHSECONDS ;;
    esac
}

# job__json_string TEXT: TEXT as a JSON string literal, quotes included.
job__json_string() {
    case $1 in
        *\\* | *\"* | *[[:cntrl:]]*) ;;
        *)
            printf '"%s"' "$1"
            return
            ;;
    esac
    # The "." keeps a trailing newline from being lost by awk; it is cut off at the end.
    printf '%s.' "$1" | LC_ALL=C awk '
        BEGIN {
            for (i = 1; i < 32; i++) esc[sprintf("%c", i)] = sprintf("\\u%04x", i)
            esc["\t"] = "\\t"; esc["\r"] = "\\r"; esc["\b"] = "\\b"; esc["\f"] = "\\f"
            esc["\\"] = "\\\\"; esc["\""] = "\\\""
            printf "\""
        }
        {
            if (NR > 1) printf "%s\\n", line
            line = ""
            n = length($0)
            for (i = 1; i <= n; i++) {
                c = substr($0, i, 1)
                line = line ((c in esc) ? esc[c] : c)
            }
        }
        END { printf "%s\"", substr(line, 1, length(line) - 1) }'
}

# job__to_json TEXT: sets job__json to TEXT as a JSON string literal; forks only for text
# that needs escaping.
job__to_json() {
    case $1 in
        *\\* | *\"* | *[[:cntrl:]]*) job__json=$(job__json_string "$1") ;;
        *) job__json="\"$1\"" ;;
    esac
}

# job__to_number TEXT: sets job__n to TEXT as a JSON number (leading zeros dropped), or
# fails. No subshell: job_progress is called in loops.
job__to_number() {
    case $1 in
        '' | *[!0-9.]* | .* | *. | *.*.*) return 1 ;;
    esac
    job__n=$1
    while :; do
        case $job__n in
            0[0-9]*) job__n=${job__n#0} ;;
            *) break ;;
        esac
    done
}

# job__number TEXT: TEXT as a JSON number on stdout, or fail.
job__number() {
    job__to_number "$1" && printf '%s' "$job__n"
}

# job__send TYPE [JSON_FIELDS]: one message on the channel. JSON_FIELDS starts with a comma.
job__send() {
    [ "$JOBDECK__MODE" = channel ] || return 0
    job__now
    printf '{"type":"%s","jobId":%s,"timestamp":%s%s}\n' \
        "$1" "$JOBDECK__JOB_ID_JSON" "$job__ts" "${2-}" >&9 2>/dev/null || true
}

job__pick_connector() {
    if [ -n "${JOBDECK_SH_CONNECTOR-}" ]; then
        printf '%s' "$JOBDECK_SH_CONNECTOR"
    elif command -v python3 >/dev/null 2>&1; then
        printf python3
    elif command -v socat >/dev/null 2>&1; then
        printf socat
    elif command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-N' \
        && nc -h 2>&1 | grep -q -- '-U'; then
        printf nc
    else
        printf print
    fi
}

job__start_connector() {
    # Each reads the FIFO until its end, even when the socket fails: no SIGPIPE for us.
    case $1 in
        python3)
            python3 -c "$JOBDECK__PY" "$JOBDECK_CHANNEL" "$JOBDECK__DIR/inbox" \
                <"$JOBDECK__DIR/outbox" >/dev/null 2>&1 &
            ;;
        socat)
            { socat -t 1 - "UNIX-CONNECT:$JOBDECK_CHANNEL" >"$JOBDECK__DIR/inbox" 2>/dev/null
              cat >/dev/null; } <"$JOBDECK__DIR/outbox" &
            ;;
        nc)
            { nc -N -U "$JOBDECK_CHANNEL" >"$JOBDECK__DIR/inbox" 2>/dev/null
              cat >/dev/null; } <"$JOBDECK__DIR/outbox" &
            ;;
        *) return 1 ;;
    esac
    JOBDECK__CONNECTOR_PID=$!
}

# Runs in a background subshell; killed by job_cleanup, and stops by itself once the script
# is gone. The sleep runs without fd 9 and is killed with the loop, so nothing lingers.
job__heartbeats() {
    job__interval=${JOBDECK_HEARTBEAT_INTERVAL:-10}
    job__parent=$1
    # $! is the sleep (if one started yet); wait for it, so none outlives the script.
    trap 'kill $! 2>/dev/null; wait $! 2>/dev/null; exit 0' TERM
    while :; do
        sleep "$job__interval" 9>&- &
        wait $!
        kill -0 "$job__parent" 2>/dev/null || exit 0
        job__send heartbeat
    done
}

# ---------------------------------------------------------------------------- public

job_init() {
    JOBDECK__MODE=print
    JOBDECK__DONE=
    JOBDECK__STAMPED=
    if [ -z "${JOBDECK_CHANNEL-}" ] || [ -z "${JOBDECK_JOB_ID-}" ] || [ -z "${JOBDECK_TOKEN-}" ]
    then
        return 0
    fi
    job__connector=$(job__pick_connector)
    [ "$job__connector" = print ] && return 0
    JOBDECK__DIR=$(mktemp -d "${TMPDIR:-/tmp}/jobdeck-job.XXXXXX") || return 0
    if ! mkfifo -m 600 "$JOBDECK__DIR/outbox" || ! : >"$JOBDECK__DIR/inbox" \
        || ! job__start_connector "$job__connector"; then
        echo "jobdeck-job.sh: cannot start the $job__connector connector;" \
            "progress is printed instead" >&2
        rm -rf "$JOBDECK__DIR"
        JOBDECK__DIR=
        return 0
    fi
    exec 9>"$JOBDECK__DIR/outbox"
    JOBDECK__MODE=channel
    [ "$job__connector" = python3 ] && JOBDECK__STAMPED=1
    trap 'job_cleanup' EXIT
    JOBDECK__JOB_ID_JSON=$(job__json_string "$JOBDECK_JOB_ID")
    job__send hello ",\"token\":$(job__json_string "$JOBDECK_TOKEN")"
    job__send started
    job__heartbeats $$ >/dev/null 2>&1 &
    JOBDECK__HEARTBEAT_PID=$!
}

job_progress() {
    if [ $# -lt 1 ]; then
        echo "job_progress: usage: job_progress PERCENT|CURRENT/TOTAL [MESSAGE]" >&2
        return 2
    fi
    case $1 in
        */*)
            job__to_number "${1%%/*}" && job__current=$job__n \
                && job__to_number "${1#*/}" && job__total=$job__n || {
                echo "job_progress: '$1' is not CURRENT/TOTAL (two numbers >= 0)" >&2
                return 2
            }
            job__fields=",\"current\":$job__current,\"total\":$job__total"
            job__text="$job__current/$job__total"
            ;;
        *)
            job__to_number "$1" || {
                echo "job_progress: '$1' is not a percentage (a number from 0 to 100)" >&2
                return 2
            }
            job__percent=$job__n
            [ "${job__percent%%.*}" -ge 100 ] 2>/dev/null && job__percent=100
            job__fields=",\"percent\":$job__percent"
            job__text="$job__percent%"
            ;;
    esac
    if [ "$JOBDECK__MODE" = channel ]; then
        if [ $# -ge 2 ]; then
            job__to_json "$2"
            job__fields="$job__fields,\"message\":$job__json"
        fi
        job__send progress "$job__fields"
    else
        printf '%s%s\n' "$job__text" "${2:+ $2}"
    fi
}

job__log() {
    if [ "$JOBDECK__MODE" = channel ]; then
        job__to_json "$2"
        job__send log ",\"level\":\"$1\",\"message\":$job__json"
    else
        printf '%s: %s\n' "$1" "$2" >&2
    fi
}

job_info() { job__log info "$*"; }
job_warn() { job__log warning "$*"; }
job_error() { job__log error "$*"; }
job_heartbeat() { job__send heartbeat; }

job_cancelled() {
    [ -n "$JOBDECK__DIR" ] && [ -f "$JOBDECK__DIR/inbox" ] \
        && grep -q '"type":"cancel"' "$JOBDECK__DIR/inbox"
}

job_complete() {
    if [ $# -ge 1 ] && [ -n "$1" ]; then
        job__send completed ",\"result\":$1"
    else
        job__send completed
    fi
    JOBDECK__DONE=1
    job_cleanup
}

job_fail() {
    job__message=${1:-failed}
    if [ "$JOBDECK__MODE" = channel ]; then
        job__send failed ",\"error\":$(job__json_string "$job__message")"
    else
        printf 'error: %s\n' "$job__message" >&2
    fi
    JOBDECK__DONE=1
    job_cleanup
    exit "${2:-1}"
}

# Stop the heartbeats, close the channel and wait until the connector has sent everything.
job_cleanup() {
    if [ -n "$JOBDECK__HEARTBEAT_PID" ]; then
        kill "$JOBDECK__HEARTBEAT_PID" 2>/dev/null
        wait "$JOBDECK__HEARTBEAT_PID" 2>/dev/null
        JOBDECK__HEARTBEAT_PID=
    fi
    if [ "$JOBDECK__MODE" = channel ]; then
        exec 9>&-
        JOBDECK__MODE=print
    fi
    if [ -n "$JOBDECK__CONNECTOR_PID" ]; then
        wait "$JOBDECK__CONNECTOR_PID" 2>/dev/null
        JOBDECK__CONNECTOR_PID=
    fi
    if [ -n "$JOBDECK__DIR" ]; then
        rm -rf "$JOBDECK__DIR"
        JOBDECK__DIR=
    fi
}
