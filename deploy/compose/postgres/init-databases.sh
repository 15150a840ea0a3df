#!/usr/bin/env bash
# First start of the postgres container only: the Treeflow and Unleash databases and
# their owners (Temporal's auto-setup creates its own as the superuser).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username postgres \
  -v treeflow_pw="$TREEFLOW_DB_PASSWORD" -v unleash_pw="$UNLEASH_DB_PASSWORD" <<'SQL'
CREATE ROLE treeflow LOGIN PASSWORD :'treeflow_pw';
CREATE DATABASE treeflow OWNER treeflow;
CREATE ROLE unleash LOGIN PASSWORD :'unleash_pw';
CREATE DATABASE unleash OWNER unleash;
SQL
