#!/usr/bin/env bash
# Provision and run a REAL single-node OpenSearch for local development, the
# integration tests and CI (`make opensearch`, `make opensearch-stop`).
#
# Why a real node and not a mock: the detector depends on OpenSearch behaviour
# (geo_point mappings, composable index templates, aggregations) that mocks get
# subtly wrong. Why this script and not Docker: CI and dev machines have no
# Docker, but do have a JDK and Maven, and Maven Central serves the OpenSearch
# "integ-test-zip" distribution.
#
# Usage:
#   scripts/opensearch.sh start [--clean]   start (idempotent); --clean wipes data+logs first
#   scripts/opensearch.sh stop              stop the node this script started (no-op if none)
#   scripts/opensearch.sh status            exit 0 and print the URL if healthy, else exit 1
#   scripts/opensearch.sh install-plugin <groupId:artifactId[:version]>
#                                           fetch a plugin zip from Maven Central and install
#                                           it into the node (idempotent); the version
#                                           defaults to "<OPENSEARCH_VERSION>.0"
#
# Environment:
#   OPENSEARCH_VERSION   integ-test-zip version              (default 2.19.6)
#   OPENSEARCH_PORT      HTTP port                           (default 9200)
#   OPENSEARCH_HEAP      JVM heap, used for -Xms and -Xmx    (default 512m)
#   OPENSEARCH_PLUGINS   space-separated plugin coordinates that `start` installs
#                        before starting, in order, e.g.
#                        "org.opensearch.plugin:opensearch-job-scheduler org.opensearch.plugin:opensearch-ml-plugin"
#   OPENSEARCH_START_TIMEOUT  seconds to wait for yellow health (default 120)
#   OPENSEARCH_JAVA_OPTS extra JVM options, passed through to the node
#   IT_CACHE_DIR         download cache (default ~/.cache/impossible-travel); zips land in
#                        $IT_CACHE_DIR/opensearch/
#   IT_NODE_DIR          where nodes are unpacked; node dir is $IT_NODE_DIR/opensearch/node-<version>
#                        (default: $IT_CACHE_DIR when not root, /var/tmp/impossible-travel as root,
#                        see node_base below)
#   JAVA_HOME / OPENSEARCH_JAVA_HOME  JDK for the node (must be Java 11..23; default: the Java 17 JDK)
#   MAVEN_REPO_LOCAL     alternative Maven local repository (-Dmaven.repo.local)
#   OPENSEARCH_RUN_USER  system user that runs the node when invoked as root (default opensearch)
#
# What the integ-test-zip contains (checked with `unzip -l` for 2.19.3 and 2.19.6):
#   bin/, config/, lib/ (server, Lucene, geo/spatial4j/jts libs) and exactly ONE module:
#   modules/transport-netty4 (the HTTP + transport layer). It does NOT contain the
#   security plugin (so plain http, no auth: nothing to disable), nor lang-painless,
#   ingest-common, analysis-common, mapper-extras, reindex, parent-join, percolator,
#   lang-mustache, aggs-matrix-stats, geo (geo_shape / geo tile aggs) or a bundled JDK.
#   Core mapping types (keyword, ip, date, geo_point, ...), composable index templates,
#   bulk, search and the core aggregations are in the server jar and do work.
#   Those modules are NOT on Maven Central as installable zips (both
#   org.opensearch.plugin:<module>:<v>:zip and org.opensearch.module:... 404);
#   only their jars are (e.g. org.opensearch.plugin:lang-painless:<v>), and
#   `opensearch-plugin install` refuses module names ("is a system module").
#
# Default version 2.19.6: the newest 2.19.x integ-test-zip on Maven Central
# (2.19.0/1/3/4/5/6 resolve), runs on Java 17, and, unlike 2.19.2-2.19.5, has
# matching ML Commons / Job Scheduler plugin zips (2.19.6.0) on Central.
set -euo pipefail

readonly SELF="${0##*/}"
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"

readonly OS_VERSION="${OPENSEARCH_VERSION:-2.19.6}"
readonly OS_PORT="${OPENSEARCH_PORT:-9200}"
readonly OS_HEAP="${OPENSEARCH_HEAP:-512m}"
readonly START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
readonly STOP_TIMEOUT=60
readonly CLUSTER_NAME="impossible-travel-local"
readonly RUN_USER="${OPENSEARCH_RUN_USER:-opensearch}"
readonly URL="http://127.0.0.1:${OS_PORT}"

# Downloads are cached OUTSIDE the repo so `git clean`, fresh clones and CI
# workspaces don't re-download the ~55 MB distribution each time.
# Made absolute: the node is launched from its own directory and its config
# embeds these paths, so a relative IT_CACHE_DIR/IT_NODE_DIR would break.
abspath() { if [[ "$1" == /* ]]; then printf '%s' "$1"; else printf '%s/%s' "$PWD" "$1"; fi; }
CACHE_ROOT="$(abspath "${IT_CACHE_DIR:-$HOME/.cache/impossible-travel}")"
readonly CACHE_ROOT
readonly ZIP_CACHE="${CACHE_ROOT}/opensearch"

# OpenSearch refuses to run as root, so as root we run it as a dedicated system
# user. That user must be able to traverse every parent of the node dir, and
# the default cache lives under $HOME, which for root is /root (mode 700): the
# opensearch user cannot even enter it. Rather than loosening /root's
# permissions, root keeps only the downloaded zips under $HOME (root reads
# them) and unpacks nodes under /var/tmp/impossible-travel: world-traversable,
# not in the repo, and (unlike /tmp, often a tmpfs) survives reboots so the
# unpacked node and its data can be reused. A non-root user runs the node as
# themselves, so everything can stay in their own cache dir.
node_base() {
  if [[ -n "${IT_NODE_DIR:-}" ]]; then
    printf '%s/opensearch' "$(abspath "$IT_NODE_DIR")"
  elif (( EUID == 0 )); then
    printf '/var/tmp/impossible-travel/opensearch'
  else
    printf '%s' "$ZIP_CACHE"
  fi
}
NODE_BASE="$(node_base)"
readonly NODE_BASE
readonly NODE_DIR="${NODE_BASE}/node-${OS_VERSION}"
readonly PID_FILE="${NODE_DIR}/opensearch.pid"
readonly LOG_FILE="${NODE_DIR}/logs/${CLUSTER_NAME}.log"
readonly CONSOLE_LOG="${NODE_DIR}/logs/console.log"

log() { printf 'opensearch: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- helpers ---

# Runs a command as the user that owns/runs the node. `runuser -u` execs the
# command directly (no login shell), so the system user's nologin shell is fine.
as_node_user() {
  if (( EUID == 0 )); then
    runuser -u "$RUN_USER" -- "$@"
  else
    "$@"
  fi
}

# Serialise start/stop/install-plugin: `make opensearch` and a test run can race
# on a clean machine and must not unpack or launch the node twice.
take_lock() {
  mkdir -p "$NODE_BASE"
  chmod 755 "$NODE_BASE" "${NODE_BASE%/*}" 2>/dev/null || true
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${NODE_BASE}/.lock"
    flock -w 900 9 || die "could not get the lock ${NODE_BASE}/.lock within 900 s"
  fi
}

# True if the HTTP port answers with a cluster that is at least yellow.
healthy() {
  curl -fsS --max-time 5 \
    "${URL}/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/${OS_PORT}") 2>/dev/null
}

running_version() {
  curl -fsS --max-time 5 "${URL}/" 2>/dev/null \
    | sed -n 's/.*"number"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n1
}

# PIDs of OpenSearch JVMs whose home is the given node dir. We match the
# -Dopensearch.path.home=<dir> argument in /proc/<pid>/cmdline (same inode, so
# symlinked paths match too) instead of trusting the pidfile alone, because a
# stale pidfile's PID may have been reused by an unrelated process that we
# must never kill. Pure bash (no pgrep/ps): minimal CI images may lack procps.
node_pids() {
  local dir=$1 p comm arg is_node is_ours
  local -a args
  for p in /proc/[0-9]*; do
    { read -r comm <"$p/comm"; } 2>/dev/null || continue
    [[ "$comm" == java ]] || continue
    { mapfile -d '' -t args <"$p/cmdline"; } 2>/dev/null || continue
    is_node=0 is_ours=0
    for arg in "${args[@]}"; do
      case "$arg" in
        org.opensearch.bootstrap.OpenSearch) is_node=1 ;;
        -Dopensearch.path.home=*) [[ "${arg#*=}" -ef "$dir" ]] && is_ours=1 ;;
      esac
    done
    if (( is_node && is_ours )); then printf '%s\n' "${p#/proc/}"; fi
  done
}

# kill -0 is not enough: an exited child stays a zombie until reaped.
pid_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

java_major() {  # $1 = JAVA_HOME; prints the feature version (8, 11, 17, ...)
  local v=""
  if [[ -r "$1/release" ]]; then
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$1/release")
  fi
  if [[ -z "$v" ]]; then
    v=$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
  fi
  v=${v#1.}
  printf '%s' "${v%%[!0-9]*}"
}

# OpenSearch 2.19 runs on Java 11..23. Java 24+ removed the SecurityManager,
# which 2.x still installs (jvm.options has -Djava.security.manager=allow), so
# the node dies at boot there. Prefer the caller's JDK when it is usable,
# otherwise fall back to a system Java 17/21 instead of failing, because CI
# images often export a newer JAVA_HOME for other tools.
JAVA_FOR_NODE=""
pick_java() {
  local c major
  local -a candidates=()
  [[ -n "${OPENSEARCH_JAVA_HOME:-}" ]] && candidates+=("$OPENSEARCH_JAVA_HOME")
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk*
               /usr/lib/jvm/*-17* /usr/lib/jvm/java-21-openjdk* /usr/lib/jvm/*-21*)
  if command -v java >/dev/null 2>&1; then
    c=$(readlink -f "$(command -v java)"); candidates+=("${c%/bin/java}")
  fi
  for c in "${candidates[@]}"; do
    [[ -x "$c/bin/java" ]] || continue
    major=$(java_major "$c")
    if [[ -z "$major" ]] || (( major < 11 || major > 23 )); then
      log "skipping JDK $c (Java ${major:-?}; OpenSearch ${OS_VERSION} needs 11..23)"
      continue
    fi
    if ! as_node_user test -x "$c/bin/java"; then
      log "skipping JDK $c (not executable by user ${RUN_USER})"
      continue
    fi
    JAVA_FOR_NODE=$c
    return 0
  done
  die "no usable JDK (Java 11..23) found; set JAVA_HOME"
}

ensure_user() {
  (( EUID == 0 )) || return 0
  command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is required when running as root"
  id -u "$RUN_USER" >/dev/null 2>&1 && return 0
  log "creating system user ${RUN_USER} (OpenSearch refuses to run as root)"
  local -a group_opt=(--user-group)
  getent group "$RUN_USER" >/dev/null 2>&1 && group_opt=(--gid "$RUN_USER")
  useradd --system "${group_opt[@]}" --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$RUN_USER"
}

# Prints the cached path of a Maven zip artifact, fetching it if necessary.
# $1 = groupId:artifactId:version (packaging zip implied).
FETCHED=""
fetch_zip() {
  local g a v
  IFS=: read -r g a v <<<"$1"
  [[ -n "$g" && -n "$a" && -n "$v" ]] || die "bad coordinates '$1' (want groupId:artifactId:version)"
  local dest="${ZIP_CACHE}/${a}-${v}.zip"
  FETCHED=$dest
  [[ -s "$dest" ]] && return 0

  command -v mvn >/dev/null 2>&1 || die "mvn not found: needed once to fetch ${g}:${a}:${v}:zip"
  log "fetching ${g}:${a}:${v}:zip with Maven"
  # No -C (strict checksums): the OpenSearch plugin zips on Maven Central ship
  # without .sha1/.md5 files, so strict mode rejects them. Integrity is
  # checked below with `unzip -t` (per-entry CRCs) before a zip is cached.
  local -a mvn_args=(-q -B)
  [[ -n "${MAVEN_REPO_LOCAL:-}" ]] && mvn_args+=("-Dmaven.repo.local=${MAVEN_REPO_LOCAL}")
  # Output is kept out of the console unless Maven fails: even with -q, Maven
  # 3.8 prints stray ANSI reset codes on success.
  local mvn_log
  mvn_log=$(mktemp)
  if ! mvn "${mvn_args[@]}" dependency:get -Dartifact="${g}:${a}:${v}:zip" -Dtransitive=false \
       </dev/null >"$mvn_log" 2>&1; then
    tail -n 25 "$mvn_log" >&2
    rm -f "$mvn_log"
    die "Maven could not fetch ${g}:${a}:${v}:zip (does that version exist on Maven Central?)"
  fi
  rm -f "$mvn_log"

  local repo="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}"
  local rel="${g//.//}/${a}/${v}/${a}-${v}.zip"
  if [[ ! -f "${repo}/${rel}" ]]; then
    # settings.xml may relocate the local repository; ask Maven where it is.
    # (sed strips the ANSI codes Maven 3.8 mixes into -q output.)
    repo=$(mvn "${mvn_args[@]}" help:evaluate -Dexpression=settings.localRepository -DforceStdout \
             </dev/null 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g') || true
  fi
  [[ -f "${repo}/${rel}" ]] || die "fetched ${a}-${v}.zip but cannot find it in the Maven local repository"

  mkdir -p "$ZIP_CACHE"
  # Copy then rename so an interrupted copy never leaves a truncated zip that
  # later runs would trust.
  cp "${repo}/${rel}" "${dest}.tmp.$$"
  unzip -tq "${dest}.tmp.$$" >/dev/null || { rm -f "${dest}.tmp.$$"; die "corrupt zip ${repo}/${rel}"; }
  mv -f "${dest}.tmp.$$" "$dest"
}

# Unpacks the distribution once per version; `.unpacked` marks a complete
# unpack so an interrupted run is redone instead of half-used.
ensure_node_dir() {
  ensure_user
  if [[ ! -f "${NODE_DIR}/.unpacked" ]]; then
    fetch_zip "org.opensearch.distribution.integ-test-zip:opensearch:${OS_VERSION}"
    local zip=$FETCHED tmp="${NODE_DIR}.tmp.$$"
    log "unpacking ${zip##*/} into ${NODE_DIR}"
    rm -rf "$NODE_DIR" "$tmp"
    mkdir -p "$tmp"
    unzip -q "$zip" -d "$tmp"
    mv "${tmp}/opensearch-${OS_VERSION}" "$NODE_DIR"
    rmdir "$tmp"
    touch "${NODE_DIR}/.unpacked"
  fi
  mkdir -p "${NODE_DIR}/data" "${NODE_DIR}/logs" "${NODE_DIR}/config/jvm.options.d"
  if (( EUID == 0 )); then
    chown -R "${RUN_USER}:" "$NODE_DIR"
  fi
  as_node_user test -r "${NODE_DIR}/bin/opensearch" \
    || die "user ${RUN_USER} cannot reach ${NODE_DIR}: make its parent dirs traversable (chmod o+x) or set IT_NODE_DIR"
}

# Rewritten on every start so changes to OPENSEARCH_PORT / OPENSEARCH_HEAP apply.
configure() {
  local t0=$(( OS_PORT + 100 )) t1=$(( OS_PORT + 199 ))
  cat >"${NODE_DIR}/config/opensearch.yml" <<EOF
# Generated by scripts/${SELF}; rewritten on every start, edits are lost.
cluster.name: ${CLUSTER_NAME}
node.name: ${CLUSTER_NAME}-1
# single-node: no discovery, no cluster bootstrapping, and bootstrap checks
# (vm.max_map_count, file descriptors) are not enforced on CI boxes.
discovery.type: single-node
network.host: 127.0.0.1
http.port: ${OS_PORT}
# A range relative to the HTTP port so a custom OPENSEARCH_PORT never collides
# with the default 9300 of another local node; the first free port is taken.
transport.port: ${t0}-${t1}
path.data: ${NODE_DIR}/data
path.logs: ${NODE_DIR}/logs
action.auto_create_index: true
# CI and dev disks can be small or nearly full; without this the node marks
# indices read-only or refuses to allocate shards at the 85/90/95% watermarks.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  # jvm.options.d is read after config/jvm.options (-Xms1g/-Xmx1g), so this
  # wins; OPENSEARCH_JAVA_OPTS from the environment is applied later still.
  printf -- '-Xms%s\n-Xmx%s\n' "$OS_HEAP" "$OS_HEAP" \
    >"${NODE_DIR}/config/jvm.options.d/impossible-travel.options"
  if (( EUID == 0 )); then
    chown -R "${RUN_USER}:" "${NODE_DIR}/config"
  fi
}

# Prints the tail of this launch's logs. The main log is appended to across
# starts, so it is only shown when it was written after this launch began
# (otherwise an unrelated old run's lines would mislead).
tail_logs() {
  local f
  for f in "$CONSOLE_LOG" "$LOG_FILE"; do
    [[ -s "$f" ]] || continue
    [[ "$f" == "$CONSOLE_LOG" || "$f" -nt "${NODE_DIR}/.launch-stamp" ]] || continue
    log "---- last 50 lines of $f ----"
    tail -n 50 "$f" >&2
  done
}

# ------------------------------------------------------------- plugins ------

# Normalises "g:a" to "g:a:<OS_VERSION>.0" (the OpenSearch plugin scheme).
plugin_coords() {
  local g a v
  IFS=: read -r g a v <<<"$1"
  [[ -n "$g" && -n "$a" ]] || die "bad plugin coordinates '$1'"
  printf '%s:%s:%s' "$g" "$a" "${v:-${OS_VERSION}.0}"
}

descriptor_value() {  # $1 = plugin zip, $2 = key
  unzip -p "$1" plugin-descriptor.properties | tr -d '\r' | sed -n "s/^$2=//p" | head -n1
}

PLUGIN_NAME=""
install_plugin() {  # $1 = coordinates; assumes the node dir exists and the node is stopped
  local coords zip name osv
  coords=$(plugin_coords "$1")
  # Plugins load only into the exact OpenSearch version they were built for;
  # refuse early instead of downloading (up to ~375 MB) for nothing.
  case "${coords##*:}" in
    "$OS_VERSION" | "$OS_VERSION".*) ;;
    *) die "${coords}: plugin version must be ${OS_VERSION} or ${OS_VERSION}.N to match the node" ;;
  esac
  fetch_zip "$coords"
  zip=$FETCHED
  name=$(descriptor_value "$zip" name)
  osv=$(descriptor_value "$zip" opensearch.version)
  [[ -n "$name" ]] || die "${zip} has no plugin-descriptor.properties: not an OpenSearch plugin"
  PLUGIN_NAME=$name
  if [[ -d "${NODE_DIR}/plugins/${name}" ]]; then
    log "plugin ${name} already installed"
    return 0
  fi
  [[ "$osv" == "$OS_VERSION" ]] \
    || die "${coords} is built for OpenSearch ${osv}, the node is ${OS_VERSION}"
  log "installing plugin ${name} from ${coords}"
  [[ -n "$JAVA_FOR_NODE" ]] || pick_java
  # Run the installer as the invoking user: as root it can read the zip in
  # root's cache without copying hundreds of MB; ownership is fixed afterwards.
  ( cd "$NODE_DIR" \
    && env -u OPENSEARCH_PATH_CONF OPENSEARCH_JAVA_HOME="$JAVA_FOR_NODE" JAVA_HOME="$JAVA_FOR_NODE" \
         bin/opensearch-plugin install --batch "file://${zip}" >&2 ) \
    || die "opensearch-plugin install of ${coords} failed"
  if (( EUID == 0 )); then
    chown -R "${RUN_USER}:" "$NODE_DIR"
  fi
}

# Names of plugins loaded by the node answering on the port.
loaded_plugins() {
  curl -fsS --max-time 5 "${URL}/_cat/plugins?h=component" 2>/dev/null | sort -u
}

# ------------------------------------------------------------- commands -----

stop_dir() {  # $1 = node dir; stops its JVM(s), bounded
  local dir=$1 pid pids deadline
  pids=$(node_pids "$dir")
  if [[ -z "$pids" ]]; then
    rm -f "${dir}/opensearch.pid"
    return 1
  fi
  log "stopping node in ${dir} (pid $(tr '\n' ' ' <<<"$pids" | sed 's/ $//'))"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$(( SECONDS + STOP_TIMEOUT ))
  while [[ -n "$(node_pids "$dir")" ]]; do
    if (( SECONDS >= deadline )); then
      log "node did not stop within ${STOP_TIMEOUT} s, sending SIGKILL"
      for pid in $(node_pids "$dir"); do kill -KILL "$pid" 2>/dev/null || true; done
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "${dir}/opensearch.pid"
  return 0
}

cmd_stop() {
  take_lock
  local d stopped=0
  # Every version's node dir: a node started with another OPENSEARCH_VERSION
  # is still "a node started by this script".
  for d in "${NODE_BASE}"/node-*; do
    [[ -d "$d" && "$d" != *.tmp.* ]] || continue
    if stop_dir "$d"; then stopped=1; fi
  done
  if (( stopped )); then log "stopped"; else log "no node was running"; fi
}

cmd_status() {
  if healthy; then
    local h
    h=$(curl -fsS --max-time 5 "${URL}/_cluster/health" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p') || true
    log "healthy (${h:-?}), version $(running_version), node dir ${NODE_DIR}"
    printf '%s\n' "$URL"
    return 0
  fi
  log "not running/healthy at ${URL}"
  return 1
}

launch_and_wait() {
  pick_java
  configure
  touch "${NODE_DIR}/.launch-stamp"
  : >"$CONSOLE_LOG"
  if (( EUID == 0 )); then chown "${RUN_USER}:" "$CONSOLE_LOG"; fi
  log "starting OpenSearch ${OS_VERSION} on ${URL} (Java $(java_major "$JAVA_FOR_NODE") at ${JAVA_FOR_NODE}, heap ${OS_HEAP})"
  local t0=$SECONDS launcher=""
  local -a cmd=(env -u OPENSEARCH_PATH_CONF
                OPENSEARCH_JAVA_HOME="$JAVA_FOR_NODE" JAVA_HOME="$JAVA_FOR_NODE"
                OPENSEARCH_JAVA_OPTS="${OPENSEARCH_JAVA_OPTS:-}"
                bin/opensearch -p "$PID_FILE")
  if (( EUID == 0 )); then cmd=(runuser -u "$RUN_USER" -- "${cmd[@]}"); fi
  # cd: jvm.options uses paths relative to the working directory (logs/gc.log,
  # HeapDumpPath=data) and bin/opensearch runs bin/opensearch-keystore relatively.
  # setsid: the node gets its own session, so it outlives this script and a
  # Ctrl-C in `make` or a CI step's process-group cleanup does not kill it.
  # exec 9>&-: nothing in the node's process tree may inherit (and hold for
  # the node's lifetime) our lock descriptor, or the next start/stop hangs.
  if command -v ps >/dev/null 2>&1; then
    # -d: the JVM detaches and drops its console logging once started. The
    # launcher needs `ps` for -d (it checks the JVM with `ps -p`).
    ( exec 9>&- </dev/null >>"$CONSOLE_LOG" 2>&1
      cd "$NODE_DIR" && exec setsid "${cmd[@]}" -d ) \
      || { tail_logs; die "bin/opensearch failed to launch"; }
  else
    # No procps: run it in the background without -d; console.log then also
    # receives the node's log lines.
    ( exec 9>&- </dev/null >>"$CONSOLE_LOG" 2>&1
      cd "$NODE_DIR" && exec setsid "${cmd[@]}" ) &
    launcher=$!
  fi

  local deadline=$(( SECONDS + START_TIMEOUT ))
  while ! healthy; do
    if (( SECONDS >= deadline )); then
      tail_logs
      # Don't leave a half-started JVM behind: the next start (or CI step)
      # would otherwise wait on it instead of starting cleanly.
      stop_dir "$NODE_DIR" || true
      die "not healthy after ${START_TIMEOUT} s; node stopped"
    fi
    # Fail fast instead of waiting out the timeout when the node already died
    # (port taken, bad setting, unsupported Java...). With -d the node JVM
    # exists once the launcher has returned; without -d, the background
    # launcher process lives exactly as long as the node.
    if { [[ -n "$launcher" ]] && ! pid_alive "$launcher"; } \
       || { [[ -z "$launcher" ]] && [[ -z "$(node_pids "$NODE_DIR")" ]]; }; then
      tail_logs
      die "the node exited during start-up"
    fi
    sleep 1
  done
  log "ready at ${URL} after $(( SECONDS - t0 )) s (logs: ${NODE_DIR}/logs)"
}

cmd_start() {
  local clean=0 arg p
  for arg in "$@"; do
    case "$arg" in
      --clean) clean=1 ;;
      *) die "unknown start option '$arg'" ;;
    esac
  done
  local -a plugins=()
  read -r -a plugins <<<"${OPENSEARCH_PLUGINS:-}"

  take_lock

  if (( ! clean )) && healthy; then
    local missing="" p name loaded
    if (( ${#plugins[@]} )); then
      loaded=$(loaded_plugins)
      for p in "${plugins[@]}"; do
        # Plugin name != artifactId (opensearch-ml vs opensearch-ml-plugin):
        # read the name from the zip's descriptor.
        fetch_zip "$(plugin_coords "$p")"
        name=$(descriptor_value "$FETCHED" name)
        grep -qxF -- "$name" <<<"$loaded" || missing+=" $name"
      done
    fi
    if [[ -z "$missing" ]]; then
      log "already running and healthy at ${URL} (version $(running_version))"
      return 0
    fi
    [[ -n "$(node_pids "$NODE_DIR")" ]] \
      || die "a node at ${URL} lacks plugin(s)${missing} and was not started by this script for ${OS_VERSION}"
    log "running node lacks plugin(s)${missing}: restarting it with them"
    stop_dir "$NODE_DIR" || true
  fi

  # Our own node may be up but not (yet) healthy, e.g. still recovering.
  if [[ -n "$(node_pids "$NODE_DIR")" ]]; then
    if (( clean )); then
      stop_dir "$NODE_DIR" || true
    else
      log "node process exists but is not healthy yet; waiting"
      local deadline=$(( SECONDS + START_TIMEOUT ))
      until healthy; do
        (( SECONDS < deadline )) || { tail_logs; die "existing node not healthy after ${START_TIMEOUT} s"; }
        sleep 1
      done
      log "ready at ${URL}"
      return 0
    fi
  fi

  if (( clean )) && healthy; then
    die "--clean: ${URL} is served by a node this script did not start for ${OS_VERSION}; stop it first"
  fi
  if port_in_use; then
    die "port ${OS_PORT} is in use by something that is not a healthy OpenSearch; set OPENSEARCH_PORT"
  fi

  ensure_node_dir
  if (( clean )); then
    log "--clean: wiping ${NODE_DIR}/data and logs"
    rm -rf "${NODE_DIR}/data" "${NODE_DIR}/logs"
    mkdir -p "${NODE_DIR}/data" "${NODE_DIR}/logs"
    if (( EUID == 0 )); then chown "${RUN_USER}:" "${NODE_DIR}/data" "${NODE_DIR}/logs"; fi
  fi
  for p in "${plugins[@]}"; do
    install_plugin "$p"
  done
  launch_and_wait
}

cmd_install_plugin() {
  (( $# == 1 )) || die "usage: ${SELF} install-plugin <groupId:artifactId[:version]>"
  take_lock
  ensure_node_dir
  install_plugin "$1"
  if [[ -n "$(node_pids "$NODE_DIR")" ]] && ! loaded_plugins | grep -qxF -- "$PLUGIN_NAME"; then
    log "the running node does not have ${PLUGIN_NAME} loaded yet: '${SELF} stop && ${SELF} start' to load it"
  fi
}

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" | sed -n '/^Usage:/,/^What the integ/p' | sed '$d' >&2
  exit "${1:-2}"
}

main() {
  (( $# >= 1 )) || usage
  local sub=$1; shift
  case "$sub" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    install-plugin) cmd_install_plugin "$@" ;;
    -h|--help|help) usage 0 ;;
    *) log "unknown command '$sub'"; usage ;;
  esac
}

main "$@"
