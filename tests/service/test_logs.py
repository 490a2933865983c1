"""Log lines: the text format of old, JSON lines with the context bound where work is named, and
no configured secret in either."""

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from service import logs
from service.batching import Batcher
from service.settings import Settings

OPENAI_KEY = "sk-proj-0123456789abcdefghij"
SIGNING_KEY = "signkey-prod-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@contextmanager
def captured(**settings: Any) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logs.handler(Settings(**settings), stream)
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


log = logging.getLogger("tests.logs")


def test_the_default_is_the_text_format_for_people() -> None:
    with captured() as stream:
        log.info("job %s ended %s", 7, "processed")

    line = stream.getvalue()
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    tests\.logs: job 7 ended processed\n"
    assert re.fullmatch(pattern, line)


def test_a_json_line_has_time_level_logger_message_and_the_bound_context() -> None:
    async def delivery() -> None:
        logs.bind(delivery_id="d-1", repository="acme/handbook")
        logs.bind(job_id=7)
        log.warning("could not send %s", "github/push")

    with captured(LOG_FORMAT="json") as stream:
        asyncio.run(delivery())

    [line] = json_lines(stream)
    assert line.pop("time").endswith("+00:00")
    assert line == {
        "level": "WARNING",
        "logger": "tests.logs",
        "message": "could not send github/push",
        "job_id": 7,
        "repository": "acme/handbook",
        "delivery_id": "d-1",
    }


def test_the_context_of_one_task_is_not_another_tasks() -> None:
    async def job(job_id: int, ready: asyncio.Event, other: asyncio.Event) -> None:
        logs.bind(job_id=job_id)
        ready.set()
        await other.wait()  # both have bound their job before either logs
        log.info("working")

    async def both() -> None:
        first, second = asyncio.Event(), asyncio.Event()
        await asyncio.gather(job(1, first, second), job(2, second, first))

    with captured(LOG_FORMAT="json") as stream:
        asyncio.run(both())
        log.info("outside")

    lines = json_lines(stream)
    assert sorted(line["job_id"] for line in lines if line["message"] == "working") == [1, 2]
    [outside] = [line for line in lines if line["message"] == "outside"]
    assert "job_id" not in outside


def test_a_batch_of_several_callers_logs_without_any_callers_ids() -> None:
    async def run(items: list[int]) -> list[int]:
        log.info("a batch of %d", len(items))
        return items

    batcher: Batcher[int, int] = Batcher(run)

    async def caller(job_id: int) -> int:
        logs.bind(job_id=job_id)
        return await batcher(job_id)

    async def callers() -> list[int]:
        return list(await asyncio.gather(caller(1), caller(2)))

    with captured(LOG_FORMAT="json") as stream:
        assert asyncio.run(callers()) == [1, 2]

    lines = json_lines(stream)
    assert lines and all("job_id" not in line for line in lines)


def test_an_exception_stays_on_its_one_line() -> None:
    with captured(LOG_FORMAT="json") as stream:
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            log.exception("procedure %s failed", "jobs.get")

    [line] = json_lines(stream)
    assert line["message"] == "procedure jobs.get failed"
    assert "ValueError: bad\nvalue" in line["exception"]


def test_configured_secrets_are_redacted_in_both_formats() -> None:
    settings = {
        "OPENAI_API_KEY": OPENAI_KEY,
        "INNGEST_SIGNING_KEY": SIGNING_KEY,
        "DATABASE_URL": "postgresql+psycopg://docs:p%40ss-w0rd-long@db.internal/docs",
        "GITHUB_TOKEN": "x",  # too short to tell from a word: left alone
    }
    message = (
        f"key {OPENAI_KEY}, signing {SIGNING_KEY}, url postgresql://docs:p%40ss-w0rd-long@db, "
        "decoded p@ss-w0rd-long, token x"
    )
    for log_format in ("text", "json"):
        with captured(LOG_FORMAT=log_format, **settings) as stream:
            log.error("%s", message)
            try:
                raise RuntimeError(OPENAI_KEY)
            except RuntimeError:
                log.exception("failed")

        text = stream.getvalue()
        for secret in (OPENAI_KEY, SIGNING_KEY, "p%40ss-w0rd-long", "p@ss-w0rd-long"):
            assert secret not in text
        assert text.count(logs.REDACTED) >= 5
        assert "token x" in text
