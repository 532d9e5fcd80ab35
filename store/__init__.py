"""The desk's storage: SQLAlchemy models, repositories, unit of work, outbox, state,
rate limits and channel links. Import the submodules; nothing is created at import."""
