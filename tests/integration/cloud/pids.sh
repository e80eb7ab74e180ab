# Sourced by start.sh, status.sh and stop.sh: PID files hold "PID START" where START is the
# process's start time (field 22 of /proc/PID/stat), so a PID that the system has since given to
# another process is never taken for ours.

proc_start() {  # proc_start PID -> start time, or nothing if there is no such process
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }  # drop "PID (comm) ", comm may hold spaces
    set -- $stat
    echo "${20}"
}

record_pid() {  # record_pid PID FILE
    echo "$1 $(proc_start "$1")" > "$2"
}

recorded_alive() {  # recorded_alive FILE -> prints the PID and returns 0 if that process still runs
    local pid start
    read -r pid start < "$1" || return 1
    [ -n "$pid" ] && [ -n "$start" ] && [ "$(proc_start "$pid")" = "$start" ] || return 1
    echo "$pid"
}
