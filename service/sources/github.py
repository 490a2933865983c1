"""A `Source` over the GitHub REST API, and the two ways to authenticate to it.

This is the only module that knows GitHub's URLs and headers. It takes an injected
`httpx.AsyncClient` and translates every answer into the `service.sources` error tree:

    403/429 with `retry-after`            SourceRateLimited(retry_after = that many seconds)
    403/429 with x-ratelimit-remaining 0  SourceRateLimited(retry_after = x-ratelimit-reset - now)
    429, or 403 about a rate limit        SourceRateLimited(retry_after = 60 s, GitHub's advice)
    401, other 403                        SourceAuthError
    404, 422 (GitHub's "no such commit")  SourceNotFound
    5xx, httpx.TransportError             SourceUnavailable
    anything else, or an unexpected body  SourceError

Tokens never appear in a message or a log line.
"""

import asyncio
import base64
import binascii
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from service.sources import (
    Ancestry,
    FileChange,
    FileStatus,
    SourceAuthError,
    SourceError,
    SourceNotFound,
    SourceRateLimited,
    SourceUnavailable,
    TreeEntry,
)

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
JSON_MEDIA_TYPE = "application/vnd.github+json"
SHA_MEDIA_TYPE = "application/vnd.github.sha"  # GET commits/{ref} answers the bare sha

RETRY_AFTER = "retry-after"
RATE_LIMIT_REMAINING = "x-ratelimit-remaining"
RATE_LIMIT_RESET = "x-ratelimit-reset"

# GitHub lists at most this many files in a comparison; a comparison that reaches it is recomputed
# from the two trees.
COMPARE_FILES_CAP = 300
COMPARE_PAGE_SIZE = 100
TREE_WALK_CONCURRENCY = 8
# GitHub allows 100 concurrent requests per token, REST and GraphQL together; the service keeps to
# half of them, whatever the number of files in flight, and leaves the rest to other clients.
REQUESTS_AT_ONCE = 50
UNSPECIFIED_RATE_LIMIT_WAIT = 60.0  # GitHub: "wait at least one minute" when it names no time
MIN_RATE_LIMIT_WAIT = 1.0
JWT_BACKDATE = 60  # GitHub's advice against clock drift
JWT_LIFETIME = 9 * 60  # GitHub accepts at most 10 minutes
TOKEN_REFRESH_MARGIN = 5 * 60

_REGULAR_FILE_MODES = frozenset({"100644", "100755"})
_TREE = "tree"
_FILE = "file"
_BASE64 = "base64"
_COMPARE_STATUSES = {
    "added": FileStatus.ADDED,
    "copied": FileStatus.ADDED,
    "modified": FileStatus.MODIFIED,
    "changed": FileStatus.MODIFIED,  # only the mode changed
    "removed": FileStatus.REMOVED,
    "renamed": FileStatus.RENAMED,
}
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class GitHubRepository:
    """What GitHub says about a repository: its numeric id (push payloads name it) and more."""

    id: int
    full_name: str  # as GitHub spells it
    default_branch: str


class _Answer(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)


class _Commit(_Answer):
    sha: str


class _CompareFile(_Answer):
    filename: str
    status: str
    sha: str | None = None
    previous_filename: str | None = None


class _Comparison(_Answer):
    merge_base_commit: _Commit
    files: list[_CompareFile] = Field(default_factory=list)


class _Relation(_Answer):
    status: str


class _TreeItem(_Answer):
    path: str
    mode: str
    type: str
    sha: str
    size: int | None = None


class _Tree(_Answer):
    tree: list[_TreeItem]
    truncated: bool = False


class _Blob(_Answer):
    content: str
    encoding: str


class _Content(_Answer):
    type: str
    path: str
    sha: str
    content: str | None = None
    encoding: str | None = None


class _Repository(_Answer):
    id: int
    full_name: str
    default_branch: str


class _AccessToken(_Answer):
    token: str
    expires_at: datetime


class _Contents(RootModel[_Content | list[dict[str, Any]]]):
    """A file, symlink or submodule; a list is a directory's listing."""


_Model = TypeVar("_Model", bound=BaseModel)


class GitHubAuth(Protocol):
    async def token(self) -> str:
        """A token for `Authorization: Bearer`, fresh enough for the next request."""
        ...


class StaticToken(GitHubAuth):
    """A personal access token or any other token that does not expire while the service runs."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    async def token(self) -> str:
        return self._token


class AppInstallationAuth(GitHubAuth):
    """A GitHub App's installation token: minted with a JWT, reused until shortly before expiry."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_id: str,
        private_key: str,
        installation_id: int,
        api_url: str = API_URL,
        clock: Clock = time.time,
    ) -> None:
        self._http = http
        self._app_id = app_id
        # Keys pasted into one-line environment variables often carry literal "\n".
        has_escapes = "\n" not in private_key and "\\n" in private_key
        self._private_key = private_key.replace("\\n", "\n") if has_escapes else private_key
        self._installation_id = installation_id
        self._url = f"{api_url.rstrip('/')}/app/installations/{installation_id}/access_tokens"
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: _CachedToken | None = None

    def __repr__(self) -> str:
        return f"AppInstallationAuth(app_id={self._app_id!r}, installation={self._installation_id})"

    async def token(self) -> str:
        async with self._lock:  # concurrent requests share one mint
            if self._cached is None or self._clock() >= self._cached.refresh_at:
                self._cached = await self._mint()
            return self._cached.token

    async def _mint(self) -> "_CachedToken":
        what = f"an access token for installation {self._installation_id} of app {self._app_id}"
        now = int(self._clock())
        claims = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": self._app_id}
        try:
            assertion = jwt.encode(claims, self._private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise SourceAuthError(f"the GitHub App private key cannot sign a JWT: {exc}") from exc
        response = await _send(self._http, "POST", self._url, assertion, what, self._clock)
        answer = _parse(_AccessToken, response, what)
        return _CachedToken(answer.token, answer.expires_at.timestamp() - TOKEN_REFRESH_MARGIN)


@dataclass(frozen=True, slots=True)
class _CachedToken:
    token: str
    refresh_at: float

    def __repr__(self) -> str:
        return f"_CachedToken(<hidden>, refresh_at={self.refresh_at})"


class GitHubSource:
    """Reads commits, trees and blobs of one GitHub repository ("owner/name")."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        repository: str,
        auth: GitHubAuth,
        *,
        api_url: str = API_URL,
        clock: Clock = time.time,
        requests: asyncio.Semaphore | None = None,
    ) -> None:
        """`requests` bounds the requests out at once; sources of one token should share it."""
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"a GitHub repository is 'owner/name', not {repository!r}")
        self._http = http
        self._repository = repository
        self._auth = auth
        self._clock = clock
        self._requests = requests or asyncio.Semaphore(REQUESTS_AT_ONCE)
        self._repo_url = f"{api_url.rstrip('/')}/repos/{quote(owner)}/{quote(name)}"

    def __repr__(self) -> str:
        return f"GitHubSource({self._repository!r})"

    async def compare(self, base: str, head: str) -> list[FileChange]:
        what = f"comparison {base}...{head} of {self._repository}"
        url = f"{self._repo_url}/compare/{_quote(base)}...{_quote(head)}"
        files: dict[str, _CompareFile] = {}
        page = 1
        while True:
            params = {"per_page": str(COMPARE_PAGE_SIZE), "page": str(page)}
            response = await self._get(url, what, params=params)
            comparison = _parse(_Comparison, response, what)
            new = [file for file in comparison.files if file.filename not in files]
            files.update((file.filename, file) for file in new)
            # Pages after the first list only further commits, with no files, on github.com.
            if not new or "next" not in response.links:
                break
            page += 1
        if len(files) >= COMPARE_FILES_CAP:
            return await self._compare_trees(comparison.merge_base_commit.sha, head)
        changes = (_file_change(file) for file in files.values())
        return sorted((c for c in changes if c is not None), key=lambda change: change.path)

    async def ancestry(self, base: str, head: str) -> Ancestry:
        what = f"comparison {base}...{head} of {self._repository}"
        url = f"{self._repo_url}/compare/{_quote(base)}...{_quote(head)}"
        try:
            # One commit per page: only the status is read, the commit list can be long.
            response = await self._get(url, what, params={"per_page": "1"})
        except SourceNotFound:
            # GitHub answers 404 "No common ancestor" for unrelated histories too: when both
            # commits exist, that is what it meant.
            await self.resolve(base)
            await self.resolve(head)
            return Ancestry.DIVERGED
        status = _parse(_Relation, response, what).status
        try:
            return Ancestry(status)
        except ValueError as exc:
            raise SourceError(f"GitHub sent an unexpected status {status!r} for {what}") from exc

    async def tree(self, sha: str, paths: Collection[str] | None = None) -> list[TreeEntry]:
        wanted = None if paths is None else frozenset(paths)
        entries = [
            TreeEntry(path=item.path, blob_sha=item.sha, size=item.size or 0)
            for item in await self._tree_items(sha)
            if item.mode in _REGULAR_FILE_MODES and (wanted is None or item.path in wanted)
        ]
        return sorted(entries, key=lambda entry: entry.path)

    async def read_blob(self, blob_sha: str) -> bytes:
        what = f"blob {blob_sha} of {self._repository}"
        response = await self._get(f"{self._repo_url}/git/blobs/{_quote(blob_sha)}", what)
        blob = _parse(_Blob, response, what)
        return _decode(blob.content, blob.encoding, what)

    async def read_file(self, sha: str, path: str) -> bytes | None:
        if not path:
            await self.resolve(sha)  # an unknown sha is an error whatever the path
            return None
        what = f"{path} at {sha} of {self._repository}"
        url = f"{self._repo_url}/contents/{_quote(path)}"
        try:
            response = await self._get(url, what, params={"ref": sha})
        except SourceNotFound:
            # GitHub answers 404 for an unknown ref as for a missing path; only the ref is an error.
            await self.resolve(sha)
            return None
        content = _parse(_Contents, response, what).root
        # A symlink to a file is followed and answered with the target's path: not a regular file.
        if isinstance(content, list) or content.type != _FILE or content.path != path:
            return None
        if content.encoding == _BASE64 and content.content is not None:
            return _decode(content.content, content.encoding, what)
        return await self.read_blob(content.sha)  # files over 1 MB come without content

    async def resolve(self, ref: str) -> str:
        what = f"commit {ref!r} of {self._repository}"
        response = await self._get(
            f"{self._repo_url}/commits/{_quote(ref)}", what, accept=SHA_MEDIA_TYPE
        )
        sha = response.text.strip()
        if not _COMMIT_SHA.fullmatch(sha):
            raise SourceError(f"GitHub sent an unexpected answer for {what}")
        return sha

    async def describe(self) -> GitHubRepository:
        """The repository's id, canonical name and default branch (`GET /repos/{owner}/{name}`)."""
        what = f"repository {self._repository}"
        found = _parse(_Repository, await self._get(self._repo_url, what), what)
        return GitHubRepository(found.id, found.full_name, found.default_branch)

    async def _compare_trees(self, base_sha: str, head: str) -> list[FileChange]:
        """The changes between two trees; renames show as a removal and an addition."""
        before = {item.path: (item.mode, item.sha) for item in await self._tree_items(base_sha)}
        after = {item.path: (item.mode, item.sha) for item in await self._tree_items(head)}
        changes = []
        for path in sorted(before.keys() | after.keys()):
            old, new = before.get(path), after.get(path)
            if new is None:
                changes.append(FileChange(path, FileStatus.REMOVED, blob_sha=None))
            elif old is None:
                changes.append(FileChange(path, FileStatus.ADDED, blob_sha=new[1]))
            elif old != new:
                changes.append(FileChange(path, FileStatus.MODIFIED, blob_sha=new[1]))
        return changes

    async def _tree_items(self, sha: str) -> list[_TreeItem]:
        """Every entry at `sha` that is not a directory: files, symlinks and submodules."""
        tree = await self._tree(sha, recursive=True)
        if not tree.truncated:
            return [item for item in tree.tree if item.type != _TREE]
        return await self._walk(sha)

    async def _walk(self, sha: str) -> list[_TreeItem]:
        """A truncated recursive tree, fetched again one directory at a time."""
        limit = asyncio.Semaphore(TREE_WALK_CONCURRENCY)

        async def fetch(tree_sha: str) -> _Tree:
            async with limit:
                return await self._tree(tree_sha, recursive=False)

        items: list[_TreeItem] = []
        level = [("", sha)]
        while level:
            tasks = [asyncio.ensure_future(fetch(tree_sha)) for _, tree_sha in level]
            try:
                trees = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                raise
            next_level = []
            for (prefix, _), tree in zip(level, trees, strict=True):
                for item in tree.tree:
                    path = f"{prefix}{item.path}"
                    if item.type == _TREE:
                        next_level.append((f"{path}/", item.sha))
                    else:
                        items.append(item.model_copy(update={"path": path}))
            level = next_level
        return items

    async def _tree(self, sha: str, *, recursive: bool) -> _Tree:
        what = f"tree {sha} of {self._repository}"
        params = {"recursive": "1"} if recursive else None
        url = f"{self._repo_url}/git/trees/{_quote(sha)}"
        return _parse(_Tree, await self._get(url, what, params=params), what)

    async def _get(
        self,
        url: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        accept: str = JSON_MEDIA_TYPE,
    ) -> httpx.Response:
        token = await self._auth.token()
        async with self._requests:
            return await _send(self._http, "GET", url, token, what, self._clock, params, accept)


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    token: str,
    what: str,
    clock: Clock,
    params: Mapping[str, str] | None = None,
    accept: str = JSON_MEDIA_TYPE,
) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": accept,
        "X-GitHub-Api-Version": API_VERSION,
    }
    try:
        response = await http.request(method, url, params=params, headers=headers)
    except httpx.TransportError as exc:
        raise SourceUnavailable(f"GitHub could not be reached for {what}: {exc!r}") from exc
    _raise_for_status(response, what, clock)
    return response


def _raise_for_status(response: httpx.Response, what: str, clock: Clock) -> None:
    status = response.status_code
    if status < httpx.codes.BAD_REQUEST:
        return
    message = _error_message(response)
    if status in (httpx.codes.FORBIDDEN, httpx.codes.TOO_MANY_REQUESTS):
        wait = _rate_limit_wait(response, message, clock)
        if wait is not None:
            raise SourceRateLimited(
                f"GitHub rate limit reached for {what}; retry in {wait:.0f} s", retry_after=wait
            )
    detail = f"{what} (HTTP {status}: {message})"
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        raise SourceAuthError(f"GitHub refused access to {detail}")
    if status in (httpx.codes.NOT_FOUND, httpx.codes.UNPROCESSABLE_ENTITY):
        raise SourceNotFound(f"GitHub has no {detail}")
    if status >= httpx.codes.INTERNAL_SERVER_ERROR:
        raise SourceUnavailable(f"GitHub failed to answer for {detail}")
    raise SourceError(f"GitHub did not answer for {detail}")


def _rate_limit_wait(response: httpx.Response, message: str, clock: Clock) -> float | None:
    """Seconds to wait when the response is a rate limit, else None (GitHub's documented order)."""
    headers = response.headers
    if (retry_after := headers.get(RETRY_AFTER)) is not None:
        return max(MIN_RATE_LIMIT_WAIT, _seconds_until(retry_after, clock))
    if headers.get(RATE_LIMIT_REMAINING) == "0":
        reset = headers.get(RATE_LIMIT_RESET)
        if reset is None or not reset.isdigit():
            return UNSPECIFIED_RATE_LIMIT_WAIT
        return max(MIN_RATE_LIMIT_WAIT, int(reset) - clock())
    if response.status_code == httpx.codes.TOO_MANY_REQUESTS or "rate limit" in message.lower():
        return UNSPECIFIED_RATE_LIMIT_WAIT
    return None


def _seconds_until(retry_after: str, clock: Clock) -> float:
    """`retry-after` is delay-seconds (what GitHub sends) or an HTTP date."""
    try:
        return float(retry_after)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(retry_after).timestamp() - clock()
    except (TypeError, ValueError):
        return UNSPECIFIED_RATE_LIMIT_WAIT


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else response.reason_phrase


def _parse(model: type[_Model], response: httpx.Response, what: str) -> _Model:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise SourceError(f"GitHub sent an unexpected answer for {what}") from exc


def _decode(content: str, encoding: str, what: str) -> bytes:
    if encoding != _BASE64:
        return content.encode("utf-8")
    try:
        return base64.b64decode(content)  # GitHub wraps base64 in lines; non-alphabet is skipped
    except binascii.Error as exc:
        raise SourceError(f"GitHub sent undecodable content for {what}") from exc


def _file_change(file: _CompareFile) -> FileChange | None:
    status = _COMPARE_STATUSES.get(file.status)
    if status is None:  # "unchanged"
        return None
    if status is FileStatus.REMOVED:
        return FileChange(file.filename, status, blob_sha=None)
    previous = file.previous_filename if status is FileStatus.RENAMED else None
    return FileChange(file.filename, status, blob_sha=file.sha, previous_path=previous)


def _quote(segment: str) -> str:
    """A ref or path inside a URL path: slashes stay, everything else unsafe is escaped."""
    return quote(segment, safe="/")
