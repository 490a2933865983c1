"""The README's configuration table names every setting the service reads."""

import re
from pathlib import Path

from service.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))
    variables = {field.alias for field in Settings.model_fields.values()}
    assert variables - documented == set()
