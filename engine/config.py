"""The dev-server configuration, read exactly as `inngest dev` reads it.

Precedence: command-line flag > `INNGEST_*` environment variable (key upper-cased, `-` as `_`,
lists comma-separated) > config file > default. The file is `--config` / `INNGEST_CONFIG`, or the
first `inngest.json|yaml|yml` found in the current directory, its parents, then
`~/.config/inngest`.
"""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.bodies import MAX_EVENT_SIZE, MAX_REQUEST_SIZE
from engine.signing import Signer, SigningKeyError
from engine.timeutil import parse_duration

CONFIG_NAMES = ("inngest.json", "inngest.yaml", "inngest.yml")


class ConfigError(ValueError):
    """A config file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class DevConfig:
    sdk_urls: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8288
    no_discovery: bool = False
    no_poll: bool = False
    poll_interval: int = 5
    retry_interval: int = 0
    queue_workers: int = 100
    max_request_size: int = MAX_REQUEST_SIZE
    max_event_size: int = MAX_EVENT_SIZE
    retention: str = "7d"
    signing_key: str | None = field(default=None, repr=False)
    event_keys: list[str] = field(default_factory=list, repr=False)
    path: Path | None = None

    @property
    def retention_ms(self) -> int:
        return parse_duration(self.retention)


def find_config(start: Path | None = None) -> Path | None:
    explicit = os.environ.get("INNGEST_CONFIG")
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents, Path.home() / ".config" / "inngest"]:
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ImportError as exc:
        raise ConfigError(f"{path}: reading YAML needs PyYAML; use inngest.json") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be an object")
    return data


def load(
    flags: Mapping[str, Any], config_path: Path | None = None, env: Mapping[str, str] | None = None
) -> DevConfig:
    """Merge flags (None = not given), environment and file into one DevConfig."""
    env = os.environ if env is None else env
    path = config_path or find_config()
    file_values = read_file(path) if path else {}
    defaults = DevConfig()

    def pick(key: str, default: Any) -> Any:
        flag = flags.get(key.replace("-", "_"))
        if flag not in (None, (), []):
            return flag
        env_value = env.get("INNGEST_" + key.upper().replace("-", "_"))
        if env_value:
            return _coerce(env_value, default)
        return file_values.get(key, default)

    urls = pick("sdk-url", [])
    urls = [urls] if isinstance(urls, str) else list(urls)
    event_keys = pick("event-key", [])
    event_keys = [event_keys] if isinstance(event_keys, str) else list(event_keys)
    try:
        config = DevConfig(
            sdk_urls=[url for url in urls if url],
            host=str(pick("host", defaults.host) or defaults.host),
            port=int(pick("port", defaults.port)),
            no_discovery=bool(pick("no-discovery", defaults.no_discovery)),
            no_poll=bool(pick("no-poll", defaults.no_poll)),
            poll_interval=int(pick("poll-interval", defaults.poll_interval)),
            retry_interval=int(pick("retry-interval", defaults.retry_interval)),
            queue_workers=int(pick("queue-workers", defaults.queue_workers)),
            max_request_size=int(pick("max-request-size", defaults.max_request_size)),
            max_event_size=int(pick("max-event-size", defaults.max_event_size)),
            retention=str(pick("retention", defaults.retention)),
            signing_key=str(pick("signing-key", "") or "") or None,
            event_keys=[str(key) for key in event_keys if key],
            path=path,
        )
        parse_duration(config.retention)  # a bad duration is a config error now, not later
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path or 'configuration'}: {exc}") from exc
    if config.signing_key is not None:
        try:
            Signer(config.signing_key)
        except SigningKeyError as exc:
            raise ConfigError(f"signing-key (--signing-key or INNGEST_SIGNING_KEY): {exc}") from exc
    for key, size in (
        ("max-request-size", config.max_request_size),
        ("max-event-size", config.max_event_size),
    ):
        if size < 1:
            raise ConfigError(f"{path or 'configuration'}: {key} must be a positive byte count")
    return config


def _coerce(value: str, like: Any) -> Any:
    if isinstance(like, bool):
        return value.lower() not in ("", "0", "false", "no")
    if isinstance(like, list):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value
