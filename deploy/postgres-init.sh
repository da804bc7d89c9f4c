#!/usr/bin/env bash
# The postgres image runs this once, when it makes its data directory (docker-compose.yml mounts it into
# /docker-entrypoint-initdb.d): the per-service roles of deploy/postgres-roles.sql, with the passwords from .env.
# Outside the image, PGHOST/PGPORT/PGUSER choose the server like for psql itself.
set -euo pipefail
psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" \
  -v migrate_password="$EASYIM_MIGRATE_PASSWORD" \
  -v auth_password="$EASYIM_AUTH_PASSWORD" \
  -v friends_password="$EASYIM_FRIENDS_PASSWORD" \
  -v messaging_password="$EASYIM_MESSAGING_PASSWORD" \
  -f "${EASYIM_ROLES_SQL:-/easyim/postgres-roles.sql}"
