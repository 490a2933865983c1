"""How a command reaches the running service over HTTP: the router and the push webhook.

`DOCS_INGEST_URL` names the service (default: the address `serve` listens on, from the same
settings). Every failure becomes one line for a person:

    BadServiceUrl          the URL is not one an HTTP client can use
    ServiceUnreachable     nothing answers at the URL (the service is not running there)
    ServiceError           the service answered with an error; its message is passed on
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import click
import httpx

from router.names import INPUT_PARAMETER, TRPC_PATH, ProcedureName
from service.settings import URL_VARIABLE, Settings

TIMEOUT_S = 60.0  # the first search of a fresh service loads the embedding model


@dataclass(frozen=True, slots=True)
class Credential:
    token: str
    source: str  # where the token came from, for a person reading an error

    def __repr__(self) -> str:
        return f"Credential(<hidden>, source={self.source!r})"


class ServiceUnreachable(click.ClickException):
    def __init__(self, url: str) -> None:
        super().__init__(f"cannot reach the service at {url}: is `docs-ingest serve` running?")


class BadServiceUrl(click.ClickException):
    def __init__(self, url: str, error: Exception) -> None:
        super().__init__(
            f"cannot use {url} as the service's address (set {URL_VARIABLE} to its http:// or "
            f"https:// URL): {error}"
        )


class ServiceError(click.ClickException):
    def __init__(self, message: str, *, http_status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code


def service_url(settings: Settings) -> str:
    """`DOCS_INGEST_URL`, or where `serve` listens with these settings."""
    return settings.public_url


class ServiceClient:
    def __init__(
        self,
        url: str,
        *,
        credential: Credential | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._credential = credential
        headers = {"Authorization": f"Bearer {credential.token}"} if credential else {}
        try:
            self._http = httpx.Client(
                base_url=url, headers=headers, timeout=TIMEOUT_S, transport=transport
            )
        except httpx.InvalidURL as exc:
            raise BadServiceUrl(url, exc) from exc

    def __enter__(self) -> "ServiceClient":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def query(self, procedure: ProcedureName, input: Mapping[str, Any] | None = None) -> Any:
        params = {INPUT_PARAMETER: json.dumps(input)} if input is not None else None
        return self._data(self._send("GET", f"{TRPC_PATH}/{procedure}", params=params))

    def mutate(self, procedure: ProcedureName, input: Mapping[str, Any]) -> Any:
        return self._data(self._send("POST", f"{TRPC_PATH}/{procedure}", json=input))

    def post(self, path: str, *, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        return self._send("POST", path, content=content, headers=headers)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **options)
        except httpx.ConnectError as exc:
            raise ServiceUnreachable(self.url) from exc
        except httpx.UnsupportedProtocol as exc:
            raise BadServiceUrl(self.url, exc) from exc
        except httpx.TransportError as exc:
            raise click.ClickException(f"the service at {self.url} did not answer: {exc}") from exc

    def _data(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            message = str(error.get("message") or f"HTTP {response.status_code}")
            if response.status_code == httpx.codes.UNAUTHORIZED and self._credential:
                message += f" [token {self._credential.source}]"
            raise ServiceError(
                message,
                http_status=response.status_code,
                code=data.get("code"),
            )
        if response.is_success and isinstance(body, dict) and isinstance(body.get("result"), dict):
            return body["result"].get("data")
        raise ServiceError(
            f"unexpected answer from {self.url} (HTTP {response.status_code}): "
            f"is {URL_VARIABLE} the docs-ingest service?",
            http_status=response.status_code,
        )
