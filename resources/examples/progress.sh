#!/bin/sh
# Example Jobdeck job in POSIX sh: counts through some steps, reporting progress and logs.
#
#     sh progress.sh [STEPS] [FAIL_AT_STEP]
#
# With FAIL_AT_STEP it reports a failure at that step and exits with status 1.
# JOBDECK_JOB_SH points at jobdeck-job.sh if it is not next to this directory's parent.
set -u

helper=${JOBDECK_JOB_SH:-$(dirname "$0")/../jobdeck-job.sh}
# shellcheck source=../jobdeck-job.sh
. "$helper"

steps=${1:-10}
fail_at=${2:-0}
delay=${DELAY:-0}

job_init
job_info "counting to $steps"
step=1
while [ "$step" -le "$steps" ]; do
    if job_cancelled; then
        job_warn "cancelled at step $step"
        exit 1
    fi
    if [ "$step" -eq "$fail_at" ]; then
        job_fail "step $step failed on purpose"
    fi
    [ "$delay" = 0 ] || sleep "$delay"
    job_progress "$step/$steps" "step $step of $steps"
    step=$((step + 1))
done
job_info "all steps done"
job_complete "{\"steps\": $steps}"
