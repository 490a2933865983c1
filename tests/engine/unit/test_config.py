"""Dev-server settings: flag > INNGEST_* env > config file > default, the file found upwards."""

import json
from pathlib import Path

import pytest

from engine.config import ConfigError, find_config, load


@pytest.fixture(autouse=True)
def no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own INNGEST_CONFIG and ~/.config/inngest out of these tests."""
    monkeypatch.delenv("INNGEST_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write(path: Path, values: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    return path


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(
    tmp_path: Path,
) -> None:
    file = write(tmp_path / "inngest.json", {"port": 9000, "poll-interval": 7})
    env = {"INNGEST_PORT": "9100"}

    assert load({"port": 9200}, file, env).port == 9200
    assert load({"port": None}, file, env).port == 9100
    assert load({}, file, {}).port == 9000
    assert load({}, file, {}).poll_interval == 7
    assert load({}, file, {}).queue_workers == 100  # in no source: the default


def test_environment_values_are_read_as_their_setting_type(tmp_path: Path) -> None:
    file = write(tmp_path / "inngest.json", {"no-poll": True})
    env = {
        "INNGEST_NO_POLL": "false",
        "INNGEST_SDK_URL": "http://a/api/inngest, http://b/api/inngest",
        "INNGEST_RETRY_INTERVAL": "3",
    }

    config = load({}, file, env)

    assert config.no_poll is False
    assert config.sdk_urls == ["http://a/api/inngest", "http://b/api/inngest"]
    assert config.retry_interval == 3


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        (
            ["http://a/api/inngest", "http://b/api/inngest"],
            ["http://a/api/inngest", "http://b/api/inngest"],
        ),
        ("http://a/api/inngest", ["http://a/api/inngest"]),
    ],
)
def test_sdk_url_may_be_a_list_or_a_string(tmp_path: Path, value: object, urls: list[str]) -> None:
    file = write(tmp_path / "inngest.json", {"sdk-url": value})
    assert load({}, file, {}).sdk_urls == urls


def test_repeated_sdk_url_flags_beat_the_file(tmp_path: Path) -> None:
    file = write(tmp_path / "inngest.json", {"sdk-url": ["http://file/api/inngest"]})
    assert load({"sdk_url": ("http://flag/api/inngest",)}, file, {}).sdk_urls == [
        "http://flag/api/inngest"
    ]


def test_the_file_is_searched_in_the_current_directory_then_its_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = write(tmp_path / "project" / "inngest.json", {"port": 1})
    deep = tmp_path / "project" / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)

    assert find_config() == outer
    assert load({}, env={}).port == 1

    inner = write(deep / "inngest.json", {"port": 2})
    assert find_config() == inner
    assert load({}, env={}).port == 2


def test_inngest_config_names_the_file_explicitly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "inngest.json", {"port": 1})
    chosen = write(tmp_path / "elsewhere" / "dev.json", {"port": 3})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INNGEST_CONFIG", str(chosen))

    assert load({}, env={}).port == 3


def test_a_malformed_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    file = tmp_path / "inngest.json"
    file.write_text('{"port": 8288,')

    with pytest.raises(ConfigError, match="not valid JSON") as raised:
        load({}, file, {})
    assert str(file) in str(raised.value)


def test_a_wrongly_typed_value_is_an_error_naming_the_file(tmp_path: Path) -> None:
    file = write(tmp_path / "inngest.json", {"port": "eighty"})

    with pytest.raises(ConfigError) as raised:
        load({}, file, {})
    assert str(file) in str(raised.value)


def test_limits_and_retention_take_flag_then_environment_then_file_then_default(
    tmp_path: Path,
) -> None:
    file = write(
        tmp_path / "inngest.json",
        {"max-event-size": 1000, "max-request-size": 5000, "retention": "2d"},
    )
    env = {"INNGEST_MAX_EVENT_SIZE": "2000", "INNGEST_RETENTION": "12h"}

    flagged = load({"max_event_size": 3000, "retention": "1m"}, file, env)
    from_env = load({}, file, env)
    from_file = load({}, file, {})
    defaults = load({}, write(tmp_path / "empty" / "inngest.json", {}), {})

    assert (flagged.max_event_size, flagged.retention_ms) == (3000, 60_000)
    assert (from_env.max_event_size, from_env.retention_ms) == (2000, 12 * 3_600_000)
    assert (from_file.max_event_size, from_file.max_request_size) == (1000, 5000)
    assert from_file.retention_ms == 2 * 86_400_000
    assert defaults.max_request_size == 3 * 1024 * 1024
    assert defaults.max_event_size == 256 * 1024
    assert defaults.retention_ms == 7 * 86_400_000


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"retention": "a week"}, "invalid duration"),
        ({"max-event-size": 0}, "max-event-size"),
        ({"max-request-size": -1}, "max-request-size"),
    ],
)
def test_a_bad_limit_or_retention_is_an_error_naming_it(
    tmp_path: Path, values: dict[str, object], named: str
) -> None:
    file = write(tmp_path / "inngest.json", values)

    with pytest.raises(ConfigError, match=named):
        load({}, file, {})
