"""The docs-ingest service: the FastAPI app and the domain parts it owns."""
