"""A GitHub repository connected in a test's database, as the webhook tests need one."""

from service.db import create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.models import Provider
from service.repositories import connect


def connect_github_repository(database_url: str, full_name: str, repo_id: int) -> str:
    """Migrate the database, connect `full_name` (GitHub id `repo_id`) and return its webhook
    secret."""
    migrate(database_url)
    db = create_db_engine(database_url)
    try:
        with session_scope(db) as session:
            repository = connect(
                session,
                provider=Provider.GITHUB,
                full_name=full_name,
                external_id=str(repo_id),
                default_branch="main",
                embedder=LocalEmbedder(),
            )
        return repository.webhook_secret
    finally:
        db.dispose()
