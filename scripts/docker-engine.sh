#!/usr/bin/env bash
# A private Docker engine for kaisar-node's Docker tests, CI and `kaisar-node devnet`.
#
#   scripts/docker-engine.sh start    install Debian's docker.io when dockerd is missing (root only),
#                                      start dockerd on a private socket, data root and bridge, build
#                                      the test images locally, print `DOCKER_HOST=unix://…` on stdout
#   scripts/docker-engine.sh stop     stop what `start` started (containers, dockerd, its containerd,
#                                      bridge, mounts) and remove its state directory
#   scripts/docker-engine.sh status   print `DOCKER_HOST=…` and exit 0 when running; exit 3 when not
#
# Environment:
#   KAISAR_DOCKER_DIR     state directory (socket, data root, exec root, logs); default /tmp/kaisar-docker.
#                         Two directories are two independent engines (own bridge and subnet).
#   KAISAR_DOCKER_SUBNET  the bridge's address, e.g. 172.29.7.1/24 (default: a free 172.29.X.1/24)
#   KAISAR_DOCKER_START_TIMEOUT  seconds to wait for dockerd to answer (default 60)
#   KAISAR_DOCKERD_FLAGS  extra dockerd flags, split on spaces (e.g. `--storage-driver vfs` where the
#                         state dir is on overlayfs and overlay2 cannot nest)
#
# Why each dockerd flag: nothing of a system Docker may be touched or shared. Its own socket, data
# root, exec root and pidfile; its own config file (the system's /etc/docker/daemon.json could set
# `hosts` and clash with our flags); its own containerd namespaces (dockerd reuses a system containerd
# when one runs, so names must not collide with the system engine's `moby`); its own bridge (docker0
# belongs to the system engine). No iptables rules and no ip_forward: published ports are only ever
# bound on 127.0.0.1, and loopback traffic reaches containers through docker-proxy, which connects
# from the host straight onto the bridge, so the host's firewall and sysctls stay as they are.
#
# Everything goes to stderr prefixed `docker-engine:` (timings as `docker-engine: timing NAME=SECONDS`);
# stdout carries only the DOCKER_HOST line, so `export "$(scripts/docker-engine.sh start)"` works.
set -euo pipefail

DIR=${KAISAR_DOCKER_DIR:-/tmp/kaisar-docker}
DIR=${DIR%/}
SOCK=$DIR/docker.sock
DATA=$DIR/data
EXEC=$DIR/exec
PIDFILE=$DIR/dockerd.pid
LOG=$DIR/dockerd.log
STATE=$DIR/engine.env
LOCK=$DIR.lock # outside $DIR: `stop` removes $DIR while holding the lock
START_TIMEOUT=${KAISAR_DOCKER_START_TIMEOUT:-60}

# The test images. Bump IMAGE_REV whenever the recipe in build_test_http changes: an engine that
# already has the image rebuilds it only when its revision label differs.
TEST_HTTP_IMAGE=kaisar/test-http:1
IMAGE_REV=1

log () { printf 'docker-engine: %s\n' "$*" >&2; }
die () { log "$*"; exit 1; }
now () { date +%s.%N; }
elapsed () { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
timing () { log "timing $1=$2"; }

# Per-directory names, so two state directories never share a bridge.
DIR_HASH=$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)
BRIDGE=kaisar$((DIR_HASH % 100000))
NAMESPACE=$BRIDGE # containerd namespace: dockerd shares a system containerd when one runs

# The docker CLI: Debian's (same version as its dockerd) when present, else whatever is on PATH
# (e.g. a newer client; it negotiates the API version down to the engine's).
docker_bin () { if [[ -x /usr/bin/docker ]]; then printf '/usr/bin/docker\n'; else command -v docker || true; fi; }
docker_cli () { DOCKER_HOST=unix://$SOCK "$(docker_bin)" "$@"; }
# docker_cli_t SECONDS ARGS…: the same, bounded in time (an engine that hangs must not hang us).
docker_cli_t () { DOCKER_HOST=unix://$SOCK timeout "$1" "$(docker_bin)" "${@:2}"; }
have_docker_cli () { [[ -n $(docker_bin) ]]; }

# ---- process identity ---------------------------------------------------------------------------

# The pid of *our* dockerd, or nothing. A pidfile alone is not proof (pids are reused): the process
# must be dockerd and must have been started with our socket.
our_dockerd_pid () {
  local pid=''
  [[ -r $PIDFILE ]] && pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ -z $pid && -r $STATE ]] && pid=$(sed -n 's/^DOCKERD_PID=//p' "$STATE")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  local cmd
  cmd=$(cmdline_of "$pid")
  [[ $cmd == *dockerd\ * && $cmd == *"--host unix://$SOCK "* ]] && printf '%s\n' "$pid"
  return 0
}

# cmdline_of PID: its command line, arguments joined by spaces (bash builtins only: teardown reads
# every process's, and a subprocess each would take seconds).
cmdline_of () {
  local -a args=()
  mapfile -d '' -t args 2>/dev/null < "/proc/$1/cmdline" || return 0
  printf '%s ' "${args[@]}"
}


# running PID: the process exists and is not a zombie (an exited daemon whose parent, init here,
# has not reaped it yet still answers `kill -0`).
running () {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z ]]
}

answers () { have_docker_cli && docker_cli_t 10 version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# ---- install -----------------------------------------------------------------------------------

apt_install () {
  # Non-interactive, no recommends (git, apparmor, … are not needed to run containers), and wait for
  # another apt/dpkg run to finish instead of failing on its lock.
  local out
  local -a opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed (see above)"
  fi
  if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" 2>&1); then
    # Stale package lists give 404s: refresh once and retry.
    log "apt-get install $* failed; refreshing package lists and retrying"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    out=$(DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" 2>&1) || { printf '%s\n' "$out" | tail -n 15 >&2; die "apt-get install $* failed"; }
  fi
}

ensure_dockerd () {
  command -v dockerd >/dev/null 2>&1 && return 0
  [[ $(id -u) -eq 0 ]] || die "dockerd is not installed and installing it needs root (apt-get install docker.io); run this script as root or set DOCKER_HOST to a running engine"
  command -v apt-get >/dev/null 2>&1 || die "dockerd is not installed and this is not a Debian-like system (no apt-get); install Docker and rerun"
  log "dockerd not found: installing Debian's docker.io"
  local t0; t0=$(now)
  apt_install docker.io
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
  timing install_s "$(elapsed "$t0")"
}

# ---- network ------------------------------------------------------------------------------------

subnet_free () { # subnet_free 172.29.7 : no address or route of this host is inside 172.29.7.0/24
  ! ip -4 -o addr show | awk '{print $4}' | grep -q "^$1\." && ! ip -4 route show | grep -q "^$1\."
}

choose_subnet () {
  if [[ -n ${KAISAR_DOCKER_SUBNET:-} ]]; then printf '%s\n' "$KAISAR_DOCKER_SUBNET"; return; fi
  local i x
  for i in $(seq 0 199); do
    x=$(( (DIR_HASH + i) % 200 + 20 ))
    if subnet_free "172.29.$x"; then printf '172.29.%s.1/24\n' "$x"; return; fi
  done
  die "no free 172.29.X.0/24 subnet for the engine's bridge; set KAISAR_DOCKER_SUBNET"
}

# dockerd creates only `docker0` by itself; a bridge of another name must exist before it starts.
ensure_bridge () {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    SUBNET=$(ip -4 -o addr show dev "$BRIDGE" | awk '{print $4; exit}')
    [[ -n $SUBNET ]] || { SUBNET=$(choose_subnet); ip addr add "$SUBNET" dev "$BRIDGE"; }
    ip link set "$BRIDGE" up
    return
  fi
  SUBNET=$(choose_subnet)
  ip link add name "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE (does the kernel have bridge support?)"
  ip addr add "$SUBNET" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

# ---- start ---------------------------------------------------------------------------------------

STARTED_PID=''
start_failed_cleanup () {
  local rc=$?
  if [[ $rc -ne 0 && -n $STARTED_PID ]]; then
    log "start failed: stopping the dockerd this run started and removing its state"
    teardown >/dev/null 2>&1 || true
  fi
  return "$rc"
}

launch_dockerd () {
  [[ $(id -u) -eq 0 ]] || die "starting dockerd needs root (running as uid $(id -u)); run as root or set DOCKER_HOST to a running engine"
  # Stale state from a killed engine (pidfile, socket, mounts, shims): clear it first.
  if [[ -e $STATE || -e $PIDFILE || -S $SOCK ]]; then
    log "clearing stale state in $DIR"
    teardown
  fi
  mkdir -p "$DATA" "$EXEC"
  chmod 0711 "$DIR"
  printf '{}\n' > "$DIR/daemon.json"
  ensure_bridge
  : > "$LOG"
  local -a EXTRA_FLAGS=()
  read -r -a EXTRA_FLAGS <<< "${KAISAR_DOCKERD_FLAGS:-}"
  local t0; t0=$(now)
  # setsid: the engine outlives this script and is not hit by the caller's Ctrl-C; all three stdio
  # go to the log so a caller reading our stdout (a test, npm) is not held open by the daemon, and
  # the lock's fd 9 is closed, or the daemon would hold the lock for its whole life.
  setsid dockerd \
    --config-file "$DIR/daemon.json" \
    --host "unix://$SOCK" \
    --data-root "$DATA" \
    --exec-root "$EXEC" \
    --pidfile "$PIDFILE" \
    --bridge "$BRIDGE" \
    --iptables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=true \
    --containerd-namespace "$NAMESPACE" \
    --containerd-plugins-namespace "$NAMESPACE-plugins" \
    --log-level info \
    "${EXTRA_FLAGS[@]}" \
    </dev/null >>"$LOG" 2>&1 9>&- &
  STARTED_PID=$!
  printf 'DOCKERD_PID=%s\nBRIDGE=%s\nSUBNET=%s\n' "$STARTED_PID" "$BRIDGE" "$SUBNET" > "$STATE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    if ! running "$STARTED_PID"; then
      engine_message
      die "dockerd exited during start (full log: $LOG)"
    fi
    if (( SECONDS >= deadline )); then
      engine_message
      die "dockerd did not answer on unix://$SOCK within ${START_TIMEOUT}s (full log: $LOG)"
    fi
    sleep 0.1
  done
  timing start_s "$(elapsed "$t0")"
  log "dockerd $(docker_cli version --format '{{.Server.Version}} (API {{.Server.APIVersion}})') running, pid $STARTED_PID, bridge $BRIDGE $SUBNET"
}

# The engine's own words on why it failed: its error/fatal lines, else the end of its log.
engine_message () {
  [[ -s $LOG ]] || return 0
  local lines
  lines=$(grep -E 'level=(fatal|error)|failed to start daemon|^Error' "$LOG" | tail -n 5 || true)
  [[ -n $lines ]] || lines=$(tail -n 5 "$LOG")
  printf '%s\n' "$lines" | sed 's/^/dockerd: /' >&2
}

# ---- images --------------------------------------------------------------------------------------

# A static busybox: the host's when it is static (busybox-static installed), else the one inside
# Debian's busybox-static package, downloaded and unpacked without installing it (it would replace a
# dynamic `busybox` package the host may depend on).
get_busybox () { # get_busybox DEST
  local bb
  for bb in /bin/busybox /usr/bin/busybox; do
    if [[ -x $bb ]] && ! ldd "$bb" >/dev/null 2>&1; then cp "$bb" "$1"; return; fi
  done
  local tmp; tmp=$(mktemp -d "$DIR/busybox.XXXXXX")
  if ! (cd "$tmp" && apt-get download -q busybox-static >/dev/null 2>&1); then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    (cd "$tmp" && apt-get download -q busybox-static >&2) || { rm -rf "$tmp"; die "cannot get Debian's busybox-static (apt-get download busybox-static failed)"; }
  fi
  dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
  cp "$tmp/x/bin/busybox" "$1"
  rm -rf "$tmp"
}

image_rev () { docker_cli image inspect --format '{{index .Config.Labels "kaisar.test-image.rev"}}' "$1" 2>/dev/null || true; }

# kaisar/test-http:1 — a busybox rootfs imported as an image (no registry, no Dockerfile base):
#   :80  busybox httpd serving /www: `/` is a known page, `/cgi-bin/limits` prints the container's
#        own cgroup memory/CPU limits (read from inside, so tests can check they are really applied)
#   :7   a byte-exact echo: `nc -ll` forks one `dd bs=1M` per connection, socket on stdin/stdout
#        (dd copies exactly what each read returns; 1 MiB reads keep syscalls low for GiB transfers)
#   stdout/stderr: one line each at start, so logs can be checked; SIGTERM stops it at once.
build_test_http () {
  local t0; t0=$(now)
  local root; root=$(mktemp -d "$DIR/rootfs.XXXXXX")
  mkdir -p "$root"/{bin,etc,www/cgi-bin,tmp,proc,sys,dev,root,var/run}
  chmod 1777 "$root/tmp"
  get_busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  cat > "$root/www/index.html" <<'EOF'
<!doctype html>
<title>kaisar test-http</title>
<p>kaisar test-http:1 ok</p>
EOF
  cat > "$root/www/cgi-bin/limits" <<'EOF'
#!/bin/sh
# The limits the kernel applies to this container, as key=value lines (cgroup v1 and v2 names).
printf 'Content-Type: text/plain\r\n\r\n'
for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max \
         /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us \
         /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us \
         /sys/fs/cgroup/cpu.max; do
  [ -r "$f" ] && echo "${f##*/}=$(cat "$f")"
done
echo "nproc=$(nproc)"
exit 0
EOF
  cat > "$root/start.sh" <<'EOF'
#!/bin/sh
# kaisar/test-http:1: HTTP on :80, byte-exact echo on :7. As PID 1, a shell ignores SIGTERM unless it
# traps it: the trap makes `docker stop` immediate instead of waiting for the kill timeout.
httpd -f -p 80 -h /www &
http=$!
nc -ll -p 7 -e dd bs=1M status=none &
echo=$!
trap 'kill $http $echo 2>/dev/null; echo "test-http: stopping"; exit 0' TERM INT
echo "test-http: serving http on :80 and echo on :7"
echo "test-http: stderr line" >&2
wait
EOF
  chmod 0755 "$root/start.sh" "$root/www/cgi-bin/limits"
  tar --numeric-owner --owner=0 --group=0 -C "$root" -c . | docker_cli import \
    --change 'CMD ["/start.sh"]' \
    --change 'ENV PATH=/bin' \
    --change 'EXPOSE 80/tcp' \
    --change 'EXPOSE 7/tcp' \
    --change "LABEL kaisar.test-image.rev=$IMAGE_REV" \
    --message "kaisar-node test image (busybox-static rootfs)" \
    - "$TEST_HTTP_IMAGE" >/dev/null
  rm -rf "$root"
  timing image_build_s "$(elapsed "$t0")"
  log "built $TEST_HTTP_IMAGE"
}

ensure_images () {
  if [[ $(image_rev "$TEST_HTTP_IMAGE") == "$IMAGE_REV" ]]; then
    log "$TEST_HTTP_IMAGE is present"
  else
    build_test_http
  fi
}

# ---- stop ---------------------------------------------------------------------------------------

# Stops everything this directory's engine runs and removes the directory. Safe on a half-started or
# killed engine: each step only acts on what it can prove is ours.
teardown () {
  local pid
  pid=$(our_dockerd_pid)
  if [[ -n $pid ]]; then
    # Every container on this private engine is ours (tests, devnet leases): remove them while the
    # engine still answers, so their processes, mounts and docker-proxies go with them.
    if answers; then
      local -a ids
      mapfile -t ids < <(docker_cli_t 20 ps -aq 2>/dev/null || true)
      (( ${#ids[@]} == 0 )) || docker_cli_t 60 rm -f "${ids[@]}" >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then log "dockerd $pid did not stop in 30 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  fi
  # Left over after a SIGKILLed engine: its containerd, container shims, the containers' own
  # processes (children of the shims, reparented to init once a shim dies) and docker-proxies. Each
  # is recognised by an argument that only our engine uses, and ended by its pid. A container's
  # init goes first: killing the init of a pid namespace kills everything in it.
  local p subnet_prefix='' shims=() others=()
  [[ -r $STATE ]] && subnet_prefix=$(sed -n 's/^SUBNET=\([0-9]*\.[0-9]*\.[0-9]*\)\..*/\1./p' "$STATE")
  local cmd stat s
  local -a fields
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" ]] && continue
    cmd=$(cmdline_of "$p")
    if [[ $cmd == *"-namespace $NAMESPACE "* ]]; then
      shims+=("$p")
    elif [[ $cmd == *"$EXEC/containerd/"* ]] || { [[ -n $subnet_prefix && $cmd == *docker-proxy* && $cmd == *"-container-ip $subnet_prefix"* ]]; }; then
      others+=("$p")
    fi
  done
  if (( ${#shims[@]} > 0 )); then
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      read -r stat 2>/dev/null < "/proc/$p/stat" || continue
      read -r -a fields <<< "${stat##*) }" # after "pid (comm) ": state, ppid, …
      for s in "${shims[@]}"; do [[ ${fields[1]:-} == "$s" ]] && kill -KILL "$p" 2>/dev/null; done
    done
  fi
  for p in "${shims[@]}" "${others[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  # The shims' sockets live outside our directory, named by a hash of (containerd address, namespace,
  # container id), as containerd's runtime v2 computes them; runc's state is per namespace.
  local id
  for id in "$DATA"/containers/*; do
    [[ -d $id ]] || continue
    rm -f "/run/containerd/s/$(printf '%s' "$EXEC/containerd/containerd.sock/$NAMESPACE/${id##*/}" | sha256sum | cut -c1-64)"
  done
  rm -rf "/run/containerd/runc/$NAMESPACE" "/run/containerd/runc/$NAMESPACE-plugins"
  # Mounts under the state dir (overlay layers, shm, netns files), deepest first.
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  # The bridge, when the state says this engine made it.
  if [[ -r $STATE ]] && grep -q "^BRIDGE=$BRIDGE\$" "$STATE" && ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE" type bridge 2>/dev/null || true
  fi
  if awk -v d="$DIR/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    die "mounts remain under $DIR after stopping the engine; not removing it"
  fi
  rm -rf "$DIR"
}

# ---- commands -----------------------------------------------------------------------------------

cmd_start () {
  mkdir -p "$(dirname "$DIR")"
  exec 9>"$LOCK"
  flock -w 300 9 || die "another docker-engine.sh holds $LOCK for more than 300 s"
  trap start_failed_cleanup EXIT
  local pid
  pid=$(our_dockerd_pid)
  if [[ -n $pid ]] && answers; then
    log "dockerd already running (pid $pid) on unix://$SOCK"
  else
    [[ $(id -u) -eq 0 ]] || die "starting dockerd needs root (running as uid $(id -u)); run as root or set DOCKER_HOST to a running engine"
    ensure_dockerd
    have_docker_cli || die "dockerd is installed but no docker CLI was found (needed to build the test images)"
    launch_dockerd
  fi
  ensure_images
  trap - EXIT
  printf 'DOCKER_HOST=unix://%s\n' "$SOCK"
}

cmd_stop () {
  exec 9>"$LOCK"
  flock -w 300 9 || die "another docker-engine.sh holds $LOCK for more than 300 s"
  if [[ ! -e $DIR ]]; then log "not running (no $DIR)"; return 0; fi
  local pid; pid=$(our_dockerd_pid)
  teardown
  log "stopped${pid:+ dockerd $pid} and removed $DIR"
}

cmd_status () {
  local pid; pid=$(our_dockerd_pid)
  if [[ -n $pid ]] && answers; then
    log "running: dockerd $(docker_cli version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), pid $pid, $DIR"
    printf 'DOCKER_HOST=unix://%s\n' "$SOCK"
    return 0
  fi
  if [[ -n $pid ]]; then log "dockerd $pid is running but does not answer on unix://$SOCK"; return 1; fi
  if [[ -e $STATE ]]; then log "not running (stale state in $DIR: \`$0 stop\` clears it)"; return 3; fi
  log "not running"
  return 3
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) printf 'usage: %s start|stop|status\n' "$0" >&2; exit 2 ;;
esac
