"""A fake server's answer that holds each request a moment and counts the most out at once."""

import asyncio
from collections.abc import Callable

import httpx


class InFlight:
    """Wraps `answer`: each request is held `hold` seconds before it is answered, so concurrent
    requests overlap; `most` is the largest number that were out at the same time."""

    def __init__(
        self, answer: Callable[[httpx.Request], httpx.Response], hold: float = 0.01
    ) -> None:
        self._answer = answer
        self._hold = hold
        self._now = 0
        self.most = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self._now += 1
        self.most = max(self.most, self._now)
        try:
            await asyncio.sleep(self._hold)
        finally:
            self._now -= 1
        return self._answer(request)
