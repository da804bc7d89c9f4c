-- One PostgreSQL role per service, and one for migrations (issue 16). Run once per database as a superuser:
--
--   psql -d easyim -v db=easyim -v migrate_password=... -v auth_password=... \
--        -v friends_password=... -v messaging_password=... -f deploy/postgres-roles.sql
--
-- easyim_migrate owns the schemas auth, friends and messaging and everything in them: `easyim migrate` runs with it.
-- easyim_auth, easyim_friends and easyim_messaging may read and write the rows of their own schema only: no other
-- schema (the gateway's and messaging's roles cannot read auth.signing_keys), no DDL, no superuser, no CREATEDB,
-- no CREATEROLE. The services run with them and Database:MigrateOnStart=false (they check, not apply, migrations).
-- Run it again after a role's password changes; it changes nothing else that exists. With one server per service,
-- run it on each with the same arguments (each server gets every role; only its own schema is used there).
\set ON_ERROR_STOP on

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'easyim_migrate') AS create_migrate,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'easyim_auth') AS create_auth,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'easyim_friends') AS create_friends,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'easyim_messaging') AS create_messaging \gset
\if :create_migrate
CREATE ROLE easyim_migrate LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
\endif
\if :create_auth
CREATE ROLE easyim_auth LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
\endif
\if :create_friends
CREATE ROLE easyim_friends LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
\endif
\if :create_messaging
CREATE ROLE easyim_messaging LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
\endif
ALTER ROLE easyim_migrate PASSWORD :'migrate_password';
ALTER ROLE easyim_auth PASSWORD :'auth_password';
ALTER ROLE easyim_friends PASSWORD :'friends_password';
ALTER ROLE easyim_messaging PASSWORD :'messaging_password';

-- Nobody else's business: only the roles named here connect, and the public schema is nobody's to write.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO easyim_migrate, easyim_auth, easyim_friends, easyim_messaging;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION easyim_migrate;
CREATE SCHEMA IF NOT EXISTS friends AUTHORIZATION easyim_migrate;
CREATE SCHEMA IF NOT EXISTS messaging AUTHORIZATION easyim_migrate;
ALTER SCHEMA auth OWNER TO easyim_migrate;
ALTER SCHEMA friends OWNER TO easyim_migrate;
ALTER SCHEMA messaging OWNER TO easyim_migrate;

-- Rows of its own schema, for what is there and for what migrations make later.
GRANT USAGE ON SCHEMA auth TO easyim_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO easyim_auth;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA auth TO easyim_auth;
ALTER DEFAULT PRIVILEGES FOR ROLE easyim_migrate IN SCHEMA auth GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO easyim_auth;
ALTER DEFAULT PRIVILEGES FOR ROLE easyim_migrate IN SCHEMA auth GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO easyim_auth;

GRANT USAGE ON SCHEMA friends TO easyim_friends;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA friends TO easyim_friends;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA friends TO easyim_friends;
ALTER DEFAULT PRIVILEGES FOR ROLE easyim_migrate IN SCHEMA friends GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO easyim_friends;
ALTER DEFAULT PRIVILEGES FOR ROLE easyim_migrate IN SCHEMA friends GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO easyim_friends;

GRANT USAGE ON SCHEMA messaging TO easyim_messaging;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA messaging TO easyim_messaging;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA messaging TO easyim_messaging;
ALTER DEFAULT PRIVILEGES FOR ROLE easyim_migrate IN SCHEMA messaging GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO easyim_messaging;
ALTER DEFAULT PRIVILEGES FOR ROLE easyim_migrate IN SCHEMA messaging GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO easyim_messaging;
