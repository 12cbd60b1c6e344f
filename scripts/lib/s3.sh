# shellcheck shell=bash
# Versity S3 Gateway (versitygw), POSIX backend: each top-level directory of
# $STACK_DIR/s3 is a bucket, object metadata lives in extended attributes.
# Root credentials are passed through the environment, never on the command line.

S3_BIN="$BIN_DIR/versitygw"
S3_DATA="$STACK_DIR/s3"
S3_LOG="$LOG_DIR/s3.log"

# `versitygw --version` only reports a version that was set with -ldflags.
s3_ldflags() {
  echo "-X main.Version=$VERSITYGW_VERSION -X main.Build=go-install -X main.BuildTime=$(date -u +%FT%TZ)"
}

# Counts as installed only when both the module and the reported version match,
# so a plain `go install` (which reports "git") is relinked once with ldflags.
versitygw_installed_version() {
  [[ -x "$S3_BIN" ]] || return 0
  local mod reported
  mod="$(go_module_version "$S3_BIN")"
  reported="$("$S3_BIN" --version 2>/dev/null | awk '/^Version/ { print $NF; exit }')"
  [[ "$reported" == "$mod" ]] && echo "$mod"
  return 0
}

s3_install() {
  go_install_pinned versitygw "$VERSITYGW_MODULE" "$VERSITYGW_VERSION" "$(s3_ldflags)"
}

s3_version() { "$S3_BIN" --version 2>/dev/null | awk '/^Version/ { print "versitygw", $NF }'; }

# Any HTTP answer counts: an unauthenticated GET gets 403 AccessDenied XML.
s3_ready() {
  local code; code="$(http_code "http://$BIND_HOST:$S3_PORT/")"
  [[ "$code" != 000 ]]
}

# Signed S3 request without a body (curl's SigV4); credentials go through a
# curl config on stdin. versitygw insists on x-amz-content-sha256: send the
# SHA-256 of the empty payload.
S3_EMPTY_SHA256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
s3_curl() {
  printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
    curl -s -m 10 -K - --aws-sigv4 "aws:amz:us-east-1:s3" \
      -H "x-amz-content-sha256: $S3_EMPTY_SHA256" "$@"
}

s3_create_bucket() {
  local bucket="$1" code
  [[ -d "$S3_DATA/$bucket" ]] && return 0
  code="$(s3_curl -o /dev/null -w '%{http_code}' -X PUT "http://$BIND_HOST:$S3_PORT/$bucket")"
  case "$code" in
    200|409) log "s3: bucket $bucket ready" ;;
    *) warn "s3: could not create bucket $bucket (HTTP $code); the service creates it on start" ;;
  esac
}

s3_up() {
  case "$(running_state s3 "$S3_PORT")" in
    ours)
      if s3_ready; then log "s3: already running (PID $(read_pid s3))"; return 0; fi ;;
    foreign)
      fail_server s3 "$S3_LOG" "cannot start: port $S3_PORT is already used by a process this script did not start (set S3_PORT)"
      return 1 ;;
    stopped)
      [[ -x "$S3_BIN" ]] || { fail_server s3 "$S3_LOG" "binary missing: $S3_BIN (run: bash scripts/stack.sh install)"; return 1; }
      mkdir -p "$S3_DATA"
      log "s3: starting versitygw on $BIND_HOST:$S3_PORT"
      ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
        start_bg s3 "$S3_LOG" "$S3_BIN" --port "$BIND_HOST:$S3_PORT" --quiet posix "$S3_DATA" ;;
  esac
  local rc=0
  wait_until "$STACK_START_TIMEOUT" "$(read_pid s3)" s3_ready || rc=$?
  case $rc in
    0) ;;
    2) fail_server s3 "$S3_LOG" "exited during startup"; return 1 ;;
    *) fail_server s3 "$S3_LOG" "not answering HTTP on $S3_PORT after ${STACK_START_TIMEOUT}s"; return 1 ;;
  esac
  s3_create_bucket "$S3_BUCKET"
  log "s3: ready (PID $(read_pid s3))"
}

s3_down() { stop_pid s3; }

s3_status() {
  local answers=no; s3_ready && answers=yes
  status_line s3 "$(live_pid s3)" "$S3_PORT" "$answers" "http://$BIND_HOST:$S3_PORT data $S3_DATA"
  [[ $answers == yes ]]
}
