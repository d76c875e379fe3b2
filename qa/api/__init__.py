"""HTTP API (FastAPI): app factory, dependencies, thin routes, schemas apart from domain types."""
