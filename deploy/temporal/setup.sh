#!/bin/sh
# Sets up a Temporal server that runs on deploy/temporal/config.yaml. The same
# script runs in docker-compose.yml's production-temporal profile (admin-tools
# image) and in `STACK_TEMPORAL=server bash scripts/stack.sh up`. POSIX sh.
#
#   sh deploy/temporal/setup.sh schema      create the persistence and visibility databases
#                                           and bring their schemas to the tool's version
#                                           (before the server starts; safe to re-run)
#   sh deploy/temporal/setup.sh namespace   wait for the server, create the namespace and
#                                           register the search attributes the sync sets
#
# Environment: the server's (POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, POSTGRES_PWD, DBNAME,
# VISIBILITY_DBNAME) for `schema`; TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (default
# "default") for `namespace`. TEMPORAL_SQL_TOOL and TEMPORAL_CLI name the binaries
# (default: temporal-sql-tool and temporal on PATH). The password reaches the SQL
# tool through its SQL_PASSWORD variable, never through the command line.
set -eu

# NAME=Type pairs the sync sets on its workflows (src/telemetry/search-attributes.ts).
SEARCH_ATTRIBUTES="ConnectorId=Int ConnectorType=Keyword SyncTrigger=Keyword"
NAMESPACE_RETENTION="30d"
SETUP_WAIT_SECONDS="${SETUP_WAIT_SECONDS:-120}"

sql_tool="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
cli="${TEMPORAL_CLI:-temporal}"
namespace="${TEMPORAL_NAMESPACE:-default}"

say() { printf '[temporal-setup] %s\n' "$*"; }

setup_schema() {
  : "${POSTGRES_SEEDS:?POSTGRES_SEEDS (the PostgreSQL host) is not set}"
  SQL_PLUGIN=postgres12 SQL_HOST="$POSTGRES_SEEDS" SQL_PORT="${DB_PORT:-5432}"
  SQL_USER="${POSTGRES_USER:-}" SQL_PASSWORD="${POSTGRES_PWD:-}"
  export SQL_PLUGIN SQL_HOST SQL_PORT SQL_USER SQL_PASSWORD
  for kind in temporal visibility; do
    if [ "$kind" = temporal ]; then db="${DBNAME:-temporal}"; else db="${VISIBILITY_DBNAME:-temporal_visibility}"; fi
    # create-database and the version-0.0 setup fail harmlessly when already done;
    # update-schema then fails loudly on anything real (connection, permissions).
    "$sql_tool" --db "$db" create-database >/dev/null 2>&1 && say "created database $db"
    "$sql_tool" --db "$db" setup-schema -v 0.0 >/dev/null 2>&1 || true
    "$sql_tool" --db "$db" update-schema --schema-name "postgresql/v12/$kind" ||
      { say "schema update of $db failed"; exit 1; }
    say "database $db: schema up to date"
  done
}

setup_namespace() {
  waited=0
  until "$cli" operator cluster health >/dev/null 2>&1; do
    [ "$waited" -lt "$SETUP_WAIT_SECONDS" ] || { say "server at ${TEMPORAL_ADDRESS:-127.0.0.1:7233} not healthy after ${SETUP_WAIT_SECONDS}s"; exit 1; }
    sleep 2; waited=$((waited + 2))
  done
  if ! "$cli" operator namespace describe --namespace "$namespace" >/dev/null 2>&1; then
    "$cli" operator namespace create --namespace "$namespace" --retention "$NAMESPACE_RETENTION"
    say "created namespace $namespace"
  fi
  # A new namespace reaches the server's namespace cache a few seconds after it is created.
  waited=0
  until existing="$("$cli" operator search-attribute list --namespace "$namespace" -o json 2>&1)"; do
    [ "$waited" -lt "$SETUP_WAIT_SECONDS" ] || { say "namespace $namespace not usable after ${SETUP_WAIT_SECONDS}s: $existing"; exit 1; }
    sleep 2; waited=$((waited + 2))
  done
  for pair in $SEARCH_ATTRIBUTES; do
    name="${pair%%=*}" type="${pair#*=}"
    case "$existing" in
      *"\"$name\""*) ;;
      *) "$cli" operator search-attribute create --namespace "$namespace" --name "$name" --type "$type"
         say "registered search attribute $name ($type)" ;;
    esac
  done
}

case "${1:-}" in
  schema) setup_schema ;;
  namespace) setup_namespace ;;
  *) echo "usage: sh deploy/temporal/setup.sh schema|namespace" >&2; exit 2 ;;
esac
