-- Least-privilege PostgreSQL roles for the platform (dev and prod). Apply with scripts/db-roles,
-- which passes these psql variables (defaults in brackets):
--   staging_schema [staging]   writer [music_platform_staging_writer]
--   reader [music_platform_warehouse_reader]   writer_password, reader_password [unset]
-- Idempotent: rerunning it changes nothing.
--
-- writer: the staging loads. Owns the staging schema and its tables (replacing a day's
--   partition drops and attaches tables, which only an owner may do); no rights elsewhere, so
--   it cannot create in, drop or alter any other schema.
-- reader: serving and analysts. Reads the staging schema, now and the tables the writer creates
--   later; writes nothing.
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'writer')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'writer') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'reader')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'writer', :'writer_password')
WHERE :'writer_password' <> '' \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'reader', :'reader_password')
WHERE :'reader_password' <> '' \gexec

-- No one but the owners creates objects in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', current_database(), :'writer', :'reader')
\gexec

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'staging_schema', :'writer')
\gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'staging_schema', :'writer') \gexec
-- Tables loaded before the roles existed pass to the writer.
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'writer')
FROM pg_tables WHERE schemaname = :'staging_schema' AND tableowner <> :'writer' \gexec

SELECT format('GRANT USAGE ON SCHEMA %I TO %I', :'staging_schema', :'reader') \gexec
SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', :'staging_schema', :'reader')
\gexec
SELECT format(
    'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT ON TABLES TO %I',
    :'writer', :'staging_schema', :'reader'
) \gexec
