-- Self-hosted Inngest keeps its apps, functions and history in a database of its own.
CREATE DATABASE inngest OWNER docs_ingest;
