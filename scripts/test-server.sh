#!/usr/bin/env bash
# Temporal's time-skipping test server, for workflow tests that skip days of timers
# (test/workflows/time-skipping.ts). The TypeScript SDK would download it from Temporal's own
# site, which this project's machines cannot reach; the same server is published to Maven Central
# as io.temporal:temporal-test-server (a Java program), so this script fetches it and its runtime
# jars with Maven, checks every jar against scripts/temporal-test-server.sha256, and writes a
# wrapper the SDK starts as an existing executable (it passes the port as the only argument).
# The server's own main has no option for its address and listens on every interface, so the
# wrapper starts scripts/lib/LoopbackTestServer.java instead (compiled here): the same services,
# on 127.0.0.1 only, on a free port the SDK picks, for as long as one test file runs.
#
#   bash scripts/test-server.sh install   fetch what is missing (Java 17 and Maven: Debian's packages)
#   bash scripts/test-server.sh path      install if needed, then print the wrapper's path
#   bash scripts/test-server.sh lock      rewrite the checksum file from a fresh fetch (after a version bump)
#
# Installs into ~/.cache/echomind-connector (ECHOMIND_CACHE): temporal-test-server/<version>/ holds
# the jars (about 38 MB) and the compiled launcher, bin/temporal-test-server is the wrapper.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd -P)"

TEST_SERVER_VERSION=1.38.0
# The SLF4J API version the server's jars use (slf4j-api in scripts/temporal-test-server.sha256).
SLF4J_VERSION=1.7.36
# Pinned, so no newer plugin is fetched behind our back.
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
CACHE="${ECHOMIND_CACHE:-$HOME/.cache/echomind-connector}"
LIB_DIR="$CACHE/temporal-test-server/$TEST_SERVER_VERSION/lib"
WRAPPER="$CACHE/bin/temporal-test-server"
LAUNCHER_SRC="$REPO_ROOT/scripts/lib/LoopbackTestServer.java"
LAUNCHER_DIR="$CACHE/temporal-test-server/$TEST_SERVER_VERSION/launcher"
LOCK_FILE="$REPO_ROOT/scripts/temporal-test-server.sha256"

log() { printf '[test-server] %s\n' "$*" >&2; }
die() { printf '[test-server] ERROR: %s\n' "$*" >&2; exit 1; }

# Java and Maven come with the project's machine image; elsewhere they are Debian's packages.
need_tools() {
  local missing=()
  command -v java >/dev/null && command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  ((${#missing[@]} == 0)) && return 0
  [[ "$(id -u)" == 0 ]] || die "needs ${missing[*]} (Debian packages); install them, or run this as root"
  log "installing ${missing[*]} (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# fetch DIR: the server's jar and its runtime dependencies into DIR, from Maven Central, each
# checked by Maven against the checksum the repository publishes (-C: a mismatch fails).
fetch() {
  local out="$1" pom_dir
  pom_dir="$(mktemp -d)"
  cat >"$pom_dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.echomind-connector</groupId>
  <artifactId>temporal-test-server-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$TEST_SERVER_VERSION</version>
    </dependency>
    <!-- The server logs through SLF4J with no binding (so nowhere) and says so on each start: bind it to nowhere quietly. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "fetching io.temporal:temporal-test-server:$TEST_SERVER_VERSION and its runtime jars (Maven)"
  if ! mvn -B -q -C -f "$pom_dir/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$out" >"$pom_dir/mvn.log" 2>&1; then
    cat "$pom_dir/mvn.log" >&2
    rm -rf "$pom_dir"
    die "Maven could not fetch the test server"
  fi
  rm -rf "$pom_dir"
}

# verified DIR: every jar in DIR is one the checksum file names, with that checksum, and none is missing.
verified() {
  local dir="$1"
  [[ -d "$dir" ]] || return 1
  diff <(cd "$dir" && ls -1 -- *.jar | LC_ALL=C sort) <(awk '{print $2}' "$LOCK_FILE" | LC_ALL=C sort) >/dev/null || return 1
  (cd "$dir" && sha256sum --quiet -c "$LOCK_FILE") >/dev/null 2>&1
}

launcher_sum() { sha256sum "$LAUNCHER_SRC" | cut -c1-16; }

# The loopback launcher, compiled against the fetched jars.
compile_launcher() {
  rm -rf "$LAUNCHER_DIR"
  mkdir -p "$LAUNCHER_DIR"
  javac -nowarn -d "$LAUNCHER_DIR" -cp "$LIB_DIR/*" "$LAUNCHER_SRC" || die "could not compile $LAUNCHER_SRC"
}

write_wrapper() {
  local java
  java="$(command -v java)"
  mkdir -p "$(dirname "$WRAPPER")"
  # C1 only and a small heap: it starts in about 2 s and stays small on a 2-core machine.
  cat >"$WRAPPER.tmp" <<EOF
#!/bin/sh
# Temporal's time-skipping test server $TEST_SERVER_VERSION (io.temporal:temporal-test-server),
# on 127.0.0.1, launcher $(launcher_sum); written by scripts/test-server.sh. Usage: temporal-test-server PORT
exec "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m -cp "$LIB_DIR/*:$LAUNCHER_DIR" LoopbackTestServer "\$@"
EOF
  chmod 0755 "$WRAPPER.tmp"
  mv "$WRAPPER.tmp" "$WRAPPER"
}

install() {
  if verified "$LIB_DIR" && [[ -x "$WRAPPER" ]] && grep -q "server $TEST_SERVER_VERSION " "$WRAPPER" \
    && grep -q "launcher $(launcher_sum);" "$WRAPPER" && [[ -f "$LAUNCHER_DIR/LoopbackTestServer.class" ]]; then
    return 0
  fi
  if verified "$LIB_DIR"; then
    need_tools
    compile_launcher
    write_wrapper
    log "launcher rebuilt: $WRAPPER"
    return 0
  fi
  need_tools
  local tmp
  tmp="$(mktemp -d "$CACHE/temporal-test-server.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE" && mktemp -d "$CACHE/temporal-test-server.XXXXXX"; })"
  fetch "$tmp/lib"
  verified "$tmp/lib" || { rm -rf "$tmp"; die "the fetched jars do not match scripts/temporal-test-server.sha256 (a version bump needs: bash scripts/test-server.sh lock)"; }
  rm -rf "$LIB_DIR"
  mkdir -p "$(dirname "$LIB_DIR")"
  mv "$tmp/lib" "$LIB_DIR"
  rm -rf "$tmp"
  compile_launcher
  write_wrapper
  log "installed: $WRAPPER ($(find "$LIB_DIR" -name '*.jar' | wc -l) jars, $(du -sh "$LIB_DIR" | cut -f1))"
}

lock() {
  need_tools
  local tmp
  tmp="$(mktemp -d)"
  fetch "$tmp/lib"
  (cd "$tmp/lib" && sha256sum -- *.jar | LC_ALL=C sort -k2) >"$LOCK_FILE"
  rm -rf "$tmp"
  log "wrote $LOCK_FILE ($(wc -l <"$LOCK_FILE") jars)"
}

case "${1:-}" in
  install) install ;;
  path) install && echo "$WRAPPER" ;;
  lock) lock ;;
  *) echo "usage: bash scripts/test-server.sh install|path|lock" >&2; exit 2 ;;
esac
