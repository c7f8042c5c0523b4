#!/bin/bash
# netns-mpirun.sh: run COMMAND as two MPI ranks on two "hosts" that share nothing but a cable.
#
#   tests/mpi/netns-mpirun.sh [--keep] -- COMMAND [ARGS...]
#
# Rank 0 runs in network namespace A, rank 1 in namespace B, and the only link between them is a
# veth pair on a private /24. Open MPI therefore sees two nodes and has to carry every message
# over TCP through the veth; the veth's byte counters, read before and after, prove it did.
# The file system, PID space and CPUs stay shared, so COMMAND may read its data from any path.
#
# Environment:
#   NETNS_TIMEOUT    seconds before the whole MPI job is killed (default 600)
#   NETNS_MIN_BYTES  fail if the veth carried fewer bytes than this (default 1048576)
#   NETNS_FORWARD    extra variable names to pass to both ranks (space separated)
# Variables named GN_*, GEMMNET_*, OMP_*, OPENBLAS_*, GOTO*, BLIS_*, MKL_*, KMP_*, PATH and
# LD_LIBRARY_PATH reach both ranks through mpirun -x. Rank 1 starts from a clean environment, as
# it would after ssh, so a variable that is not forwarded is missing there: the test catches it.
#
# Exit status: that of mpirun (the first failing rank's), 124 on timeout, 1 if the run succeeded
# but the veth carried too little, 2 on bad usage, 77 (meson's "skip") when not root, when
# network namespaces are not permitted (most containers) or when mpirun is missing.
# The namespaces and veth are removed on every exit unless --keep is given.
set -u

prog=netns-mpirun

usage()
{
    echo "usage: $0 [--keep] -- COMMAND [ARGS...]" >&2
    exit 2
}

skip()
{
    echo "$prog: SKIP: $*" >&2
    exit 77
}

fail()
{
    echo "$prog: $*" >&2
    exit 1
}

keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --keep) keep=1; shift ;;
    --) shift; break ;;
    -h | --help) usage ;;
    -*) echo "$prog: unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || usage

timeout_s=${NETNS_TIMEOUT:-600}
min_bytes=${NETNS_MIN_BYTES:-1048576}
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || fail "NETNS_TIMEOUT must be a positive integer"
[[ $min_bytes =~ ^[0-9]+$ ]] || fail "NETNS_MIN_BYTES must be a non-negative integer"

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
for tool in mpirun ip unshare timeout; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool not found"
done
# A private UTS namespace gives each side its own host name; refused in some sandboxes.
unshare --uts true 2>/dev/null || skip "unshare --uts is not permitted here"

# $$ keeps parallel runs apart. The two subnets of different runs may coincide (X = pid mod
# 256), which is harmless: each pair lives in its own namespaces and never meets the host's.
id=$$
ns_a=gnmpi-$id-a
ns_b=gnmpi-$id-b
veth_a=gnm${id}a # interface names are limited to 15 characters
veth_b=gnm${id}b
net=10.213.$((id % 256))
ip_a=$net.1
ip_b=$net.2
host_a=nsa-$id
host_b=nsb-$id

made=() # namespaces this run created, the only ones it may delete
tmp=
job=

# shellcheck disable=SC2317 # reached through the traps below
cleanup()
{
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$job" ] && kill -0 "$job" 2>/dev/null; then
        kill -TERM "$job" 2>/dev/null # timeout passes it on to mpirun's process group
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$job" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$job" 2>/dev/null
        wait "$job" 2>/dev/null
    fi
    if [ "$keep" -eq 1 ]; then
        [ ${#made[@]} -eq 2 ] &&
            echo "$prog: kept $ns_a ($ip_a) and $ns_b ($ip_b), agent $tmp/agent;" \
                "remove with: ip netns del $ns_a; ip netns del $ns_b; rm -r $tmp" >&2
        exit "$status"
    fi
    # Anything still running inside our namespaces is left over from this run (an orted or a
    # rank that outlived mpirun); it would keep the namespace, and so the veth, alive.
    local ns pids
    for ns in "${made[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086 # one pid per word
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    done
    for ns in "${made[@]}"; do
        # Deleting one end removes the pair now, not when the last process has left.
        [ "$ns" = "$ns_a" ] && ip -n "$ns_a" link del "$veth_a" 2>/dev/null
        ip netns del "$ns"
    done
    [ -n "$tmp" ] && rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Two namespaces and a veth between them ------------------------------------------------
for ns in "$ns_a" "$ns_b"; do
    [ -e "/run/netns/$ns" ] && fail "namespace $ns already exists (left by --keep?)"
done
if ! err=$(ip netns add "$ns_a" 2>&1); then
    skip "ip netns add is not permitted: ${err%%$'\n'*}"
fi
made+=("$ns_a")
ip netns exec "$ns_a" true 2>/dev/null || skip "ip netns exec is not permitted"
ip netns add "$ns_b" || fail "ip netns add $ns_b failed"
made+=("$ns_b")
# Created with its ends already inside the namespaces: never visible on the host.
ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b" ||
    fail "cannot create the veth pair"
for end in "$ns_a $veth_a $ip_a" "$ns_b $veth_b $ip_b"; do
    read -r ns dev addr <<<"$end"
    { ip -n "$ns" addr add "$addr/24" dev "$dev" && ip -n "$ns" link set lo up &&
        ip -n "$ns" link set "$dev" up; } || fail "cannot configure $dev in $ns"
done

veth_bytes()
{
    # /sys is remounted by ip netns exec, so it shows namespace A's devices. rx + tx of one end
    # is all traffic in both directions.
    local rx tx
    { read -r rx && read -r tx; } < <(ip netns exec "$ns_a" cat \
        "/sys/class/net/$veth_a/statistics/rx_bytes" "/sys/class/net/$veth_a/statistics/tx_bytes")
    [[ $rx =~ ^[0-9]+$ && $tx =~ ^[0-9]+$ ]] && echo $((rx + tx))
}

# --- The remote shell agent ----------------------------------------------------------------
# mpirun starts the daemon (orted) of every non-local host with "AGENT HOST COMMAND...", where
# COMMAND is already quoted for a remote shell, exactly as it would hand it to ssh. Ours ignores
# HOST (always $ip_b), enters namespace B with a host name of its own and runs COMMAND there
# from a clean environment, as sshd would; orted inherits PATH and LD_LIBRARY_PATH so that it
# finds Open MPI, and the ranks get everything else through mpirun -x.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netns-mpirun.XXXXXX") || fail "mktemp failed"
keep_env="PATH=$(printf %q "$PATH")"
[ -n "${LD_LIBRARY_PATH:-}" ] && keep_env+=" LD_LIBRARY_PATH=$(printf %q "$LD_LIBRARY_PATH")"
[ -n "${HOME:-}" ] && keep_env+=" HOME=$(printf %q "$HOME")"
cat >"$tmp/agent" <<EOF
#!/bin/bash
# rsh agent for $0 (pid $id): runs an Open MPI daemon inside $ns_b.
shift
exec env -i $keep_env ip netns exec $ns_b unshare --uts /bin/sh -c "hostname $host_b && exec \$*"
EOF
chmod +x "$tmp/agent" || fail "cannot write $tmp/agent"

# --- mpirun --------------------------------------------------------------------------------
# shellcheck disable=SC2054 # the commas belong to --host
mpirun_args=(
    # One slot on each "host". $ip_a is an address of namespace A, where mpirun runs, so mpirun
    # takes it as its own node and starts rank 0 itself; $ip_b is not, so rank 1 goes through
    # the rsh launcher. Addresses rather than names: nothing needs /etc/hosts.
    -np 2 --host "$ip_a:1,$ip_b:1"
    # How to reach the "remote" host: our agent instead of ssh.
    --mca plm_rsh_agent "$tmp/agent"
    # Only TCP between ranks (and self for a rank's own messages). Shared memory (vader)
    # already declines peers on another node, but naming the BTLs makes the test fail loudly
    # rather than silently bypass the veth should that ever change.
    --mca btl tcp,self
    # Ranks (btl) and daemons (oob) talk over the veth subnet only. Redundant today, since the
    # namespaces hold nothing but lo and the veth, but it pins the route the counters measure.
    --mca btl_tcp_if_include "$net.0/24"
    --mca oob_tcp_if_include "$net.0/24"
    # Each "node" believes it owns all CPUs and would bind its only rank to core 0: both ranks
    # on one core of the real machine. Leave placement to the kernel.
    --bind-to none
    # Session directories (ompi.<host>.<uid>) inside our temporary directory, so that they go
    # with it even when a killed job had no chance to remove them.
    --mca orte_tmpdir_base "$tmp"
    # Open MPI refuses to run as root without this (and we are root).
    --allow-run-as-root
)
declare -A seen=()
for name in $(compgen -e) ${NETNS_FORWARD:-}; do
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail "NETNS_FORWARD: bad variable name '$name'"
    [[ $name =~ ^(GN_|GEMMNET_|OMP_|OPENBLAS_|GOTO|BLIS_|MKL_|KMP_) || $name == PATH ||
        $name == LD_LIBRARY_PATH || " ${NETNS_FORWARD:-} " == *" $name "* ]] || continue
    [ -n "${!name+set}" ] && [ -z "${seen[$name]:-}" ] && mpirun_args+=(-x "$name")
    seen[$name]=1
done

before=$(veth_bytes) || fail "cannot read the veth counters"
start=$SECONDS
start_us=${EPOCHREALTIME/[.,]/}
# timeout runs its command in a process group of its own and signals the whole group: mpirun,
# rank 0, the agent and orted. Run in the background so that INT/TERM reach our trap at once.
# shellcheck disable=SC2016 # $1 and $@ belong to the inner shell
timeout --kill-after=10 "$timeout_s" \
    ip netns exec "$ns_a" unshare --uts /bin/sh -c 'hostname "$1" && shift && exec "$@"' sh \
    "$host_a" mpirun "${mpirun_args[@]}" "$@" &
job=$!
wait "$job"
status=$?
job=
after=$(veth_bytes) || fail "cannot read the veth counters"
bytes=$((after - before))

ms=$(((${EPOCHREALTIME/[.,]/} - start_us) / 1000))
printf '%s: veth carried %d bytes, mpirun took %d.%03d s\n' "$prog" "$bytes" \
    $((ms / 1000)) $((ms % 1000))
# 124: timeout sent TERM; 137: it had to follow with KILL (a rank killed by signal 9 also gives
# 137, hence the clock).
if [ $status -eq 124 ] ||
    { [ $status -eq 137 ] && [ $((SECONDS - start)) -ge "$timeout_s" ]; }; then
    echo "$prog: timed out after $timeout_s s (NETNS_TIMEOUT), job killed" >&2
    exit 124
fi
if [ $status -ne 0 ]; then
    echo "$prog: mpirun failed with status $status" >&2
    exit $status
fi
[ "$bytes" -ge "$min_bytes" ] ||
    fail "expected at least $min_bytes bytes over the veth (NETNS_MIN_BYTES): MPI did not use it"
exit 0
