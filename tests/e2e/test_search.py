"""What a push indexes can be found: a sentence from a page finds that page first."""

from pathlib import Path

import pytest

from service.models import IngestionStatus
from tests.e2e.system import page, running_system

# Its point is the vector search; its rows are any push's, which the other end-to-end tests
# write on both databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TOPICS = {
    "docs/billing.md": (
        "Billing",
        "Invoices are emailed on the first day of each month and can be paid by card.",
    ),
    "docs/backups.md": (
        "Backups",
        "Database snapshots are taken every night and kept for thirty days.",
    ),
    "docs/sso.md": (
        "Single sign-on",
        "Connect your SAML identity provider so employees log in with their company account.",
    ),
    "docs/rate-limits.md": (
        "Rate limits",
        "Each API key may send at most one hundred requests per minute before being throttled.",
    ),
    "docs/webhooks.md": (
        "Webhooks",
        "We POST a signed JSON payload to your HTTPS endpoint whenever an order ships.",
    ),
    "docs/mobile.md": (
        "Mobile app",
        "The iPhone and Android apps support offline mode and push notifications.",
    ),
    "docs/privacy.md": (
        "Privacy",
        "Personal data is deleted within one week after a user closes their account.",
    ),
    "docs/cli.md": (
        "Command line",
        "Install the terminal tool with pip and run the deploy command from your project folder.",
    ),
    "docs/accessibility.md": (
        "Accessibility",
        "Every screen works with a keyboard alone and with screen readers for blind users.",
    ),
    "docs/pricing.md": (
        "Pricing",
        "The team plan costs twelve dollars per seat, and nonprofits get half off.",
    ),
}


def test_a_sentence_from_a_page_finds_that_page_first(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(
            {path: page(title, ("Details", text)) for path, (title, text) in TOPICS.items()}
        )
        system.repo.commit("docs")
        job = system.finished(system.push())
        assert job.status is IngestionStatus.PROCESSED, job.error_message

        for path, (title, text) in TOPICS.items():
            hits = system.search(text)
            assert hits[0].path == path, (text, [hit.path for hit in hits])
            assert hits[0].text.endswith(text)
            assert hits[0].heading_path == (title, "Details")
