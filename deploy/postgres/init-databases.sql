-- Runs once, when the compose PostgreSQL volume is first initialised (docker-entrypoint-initdb.d).
-- One database per service, each owned by its own role: a service can reach only its own tables.
-- The passwords are for a local stack only; change them (and the URLs in docker-compose.yml)
-- anywhere else.
CREATE ROLE auth LOGIN PASSWORD 'auth';
CREATE DATABASE auth OWNER auth;

CREATE ROLE crm LOGIN PASSWORD 'crm';
CREATE DATABASE crm OWNER crm;

CREATE ROLE projects LOGIN PASSWORD 'projects';
CREATE DATABASE projects OWNER projects;

CREATE ROLE invoicing LOGIN PASSWORD 'invoicing';
CREATE DATABASE invoicing OWNER invoicing;

CREATE ROLE events LOGIN PASSWORD 'events';
CREATE DATABASE events OWNER events;
