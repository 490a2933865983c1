"""A fake GitHub REST API for one repository, answered by asking git about a real local repository.

Every route is a respx route whose answer is computed by `git` on the repository the test built,
in the shapes GitHub documents. The limits that change what a client must do (truncated recursive
trees, contents without content past a size, compare's file cap, paginated files) are parameters,
so that a small repository can reach them.
"""

import base64
import posixpath
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import respx

from service.sources.github import GitHubSource, StaticToken
from tests.service.sources.git_repo import GIT_ENV, git

API_URL = "https://api.github.test"
REPOSITORY = "octo/docs"
TOKEN = "ghp_fake-token-for-tests"
API_VERSION = "2022-11-28"
JSON_MEDIA_TYPE = "application/vnd.github+json"
SHA_MEDIA_TYPE = "application/vnd.github.sha"

_HEX = re.compile(r"[0-9a-f]{4,40}")
_REGULAR = frozenset({"100644", "100755"})
_SYMLINK = "120000"
_STATUSES = {"A": "added", "M": "modified", "T": "changed", "D": "removed", "R": "renamed"}
_NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


class FakeGitHub:
    def __init__(
        self,
        repo: Path,
        *,
        tokens: Iterable[str] = (TOKEN,),
        tree_entry_limit: int | None = None,
        contents_size_limit: int = 1024 * 1024,
        compare_files_cap: int = 300,
        compare_files_per_page: int | None = None,
    ) -> None:
        self.repo = repo
        self.tokens = set(tokens)
        self.tree_entry_limit = tree_entry_limit
        self.contents_size_limit = contents_size_limit
        self.compare_files_cap = compare_files_cap
        self.compare_files_per_page = compare_files_per_page
        self.router = respx.Router(base_url=API_URL, assert_all_called=False)
        repo_path = f"/repos/{REPOSITORY}"
        self.compare = self.router.get(
            path__regex=rf"^{repo_path}/compare/(?P<base>.+?)\.\.\.(?P<head>.+)$"
        ).mock(side_effect=self._guarded(self._compare))
        self.trees = self.router.get(path__regex=rf"^{repo_path}/git/trees/(?P<sha>.+)$").mock(
            side_effect=self._guarded(self._tree)
        )
        self.blobs = self.router.get(path__regex=rf"^{repo_path}/git/blobs/(?P<sha>.+)$").mock(
            side_effect=self._guarded(self._blob)
        )
        self.contents = self.router.get(path__regex=rf"^{repo_path}/contents/(?P<path>.+)$").mock(
            side_effect=self._guarded(self._contents)
        )
        self.commits = self.router.get(path__regex=rf"^{repo_path}/commits/(?P<ref>.+)$").mock(
            side_effect=self._guarded(self._commit)
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.router.async_handler))

    def _guarded(self, answer: Any) -> Any:
        def side_effect(request: httpx.Request, **match: str) -> httpx.Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme != "Bearer" or token not in self.tokens:
                return httpx.Response(401, json={"message": "Bad credentials"})
            if request.headers.get("x-github-api-version") != API_VERSION:
                return httpx.Response(400, json={"message": "Unsupported API version"})
            response: httpx.Response = answer(request, **match)
            return response

        return side_effect

    def _compare(self, request: httpx.Request, base: str, head: str) -> httpx.Response:
        base_sha, head_sha = self._rev(f"{base}^{{commit}}"), self._rev(f"{head}^{{commit}}")
        if base_sha is None or head_sha is None:
            return httpx.Response(404, json=_NOT_FOUND)
        merge_base = git(self.repo, "merge-base", base_sha, head_sha)
        raw = self._git_bytes("diff", "--raw", "-z", "-M", "--no-abbrev", merge_base, head_sha)
        files = _compare_files(raw)[: self.compare_files_cap]
        commits = git(self.repo, "rev-list", "--reverse", f"{merge_base}..{head_sha}").split()
        page = int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", "250"))
        # github.com lists files on the first page only; the option pages them like commits.
        files_per_page = self.compare_files_per_page
        if files_per_page is None:
            page_files = files if page == 1 else []
            pages = -(-len(commits) // per_page)
        else:
            page_files = files[(page - 1) * files_per_page : page * files_per_page]
            pages = max(-(-len(commits) // per_page), -(-len(files) // files_per_page))
        headers = {}
        if page < pages:
            next_url = request.url.copy_merge_params({"page": str(page + 1)})
            headers["link"] = f'<{next_url}>; rel="next"'
        body = {
            "status": "ahead",
            "base_commit": {"sha": base_sha},
            "merge_base_commit": {"sha": merge_base},
            "total_commits": len(commits),
            "commits": [{"sha": sha} for sha in commits[(page - 1) * per_page : page * per_page]],
            "files": page_files,
        }
        return httpx.Response(200, json=body, headers=headers)

    def _tree(self, request: httpx.Request, sha: str) -> httpx.Response:
        tree_sha = self._rev(f"{sha}^{{tree}}")
        if tree_sha is None:
            return httpx.Response(404, json=_NOT_FOUND)
        recursive = "recursive" in request.url.params
        flags = ("-r", "-t") if recursive else ()
        listing = self._git_bytes("ls-tree", "-l", "-z", *flags, tree_sha)
        items = [_tree_item(*record) for record in _ls_tree(listing)]
        limit = self.tree_entry_limit
        # GitHub truncates recursive answers (100,000 entries, 7 MB); one directory fits.
        truncated = recursive and limit is not None and len(items) > limit
        if truncated:
            items = items[: self.tree_entry_limit]
        return httpx.Response(200, json={"sha": tree_sha, "tree": items, "truncated": truncated})

    def _blob(self, request: httpx.Request, sha: str) -> httpx.Response:
        kind = self._try_git("cat-file", "-t", sha) if _HEX.fullmatch(sha) else None
        if kind != "blob":
            return httpx.Response(404, json=_NOT_FOUND)
        content = self._git_bytes("cat-file", "blob", sha)
        body = {"sha": sha, "size": len(content), "encoding": "base64", "content": _b64(content)}
        return httpx.Response(200, json=body)

    def _contents(self, request: httpx.Request, path: str) -> httpx.Response:
        ref = request.url.params.get("ref", "HEAD")
        commit = self._rev(f"{ref}^{{commit}}")
        if commit is None:
            return httpx.Response(404, json={"message": f"No commit found for the ref {ref}"})
        entry = self._entry(commit, path)
        if entry is None:
            return httpx.Response(404, json=_NOT_FOUND)
        mode, kind, sha, _size, _path = entry
        if kind == "tree":
            listing = self._git_bytes("ls-tree", "-l", "-z", sha)
            return httpx.Response(200, json=[_content_stub(path, *r) for r in _ls_tree(listing)])
        if kind == "commit":
            return httpx.Response(200, json={"type": "submodule", "path": path, "sha": sha})
        if mode == _SYMLINK:
            target = self._git_bytes("cat-file", "blob", sha).decode()
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
            followed = self._entry(commit, resolved)
            # GitHub follows a symlink to a regular file and answers with that file.
            if followed is None or followed[0] not in _REGULAR:
                link = {"type": "symlink", "path": path, "sha": sha, "target": target}
                return httpx.Response(200, json=link)
            path, sha = resolved, followed[2]
        content = self._git_bytes("cat-file", "blob", sha)
        large = len(content) > self.contents_size_limit
        body: dict[str, Any] = {
            "type": "file",
            "path": path,
            "name": posixpath.basename(path),
            "sha": sha,
            "size": len(content),
            "encoding": "none" if large else "base64",
            "content": "" if large else _b64(content),
        }
        return httpx.Response(200, json=body)

    def _commit(self, request: httpx.Request, ref: str) -> httpx.Response:
        sha = self._rev(f"{ref}^{{commit}}")
        if sha is None:
            return httpx.Response(422, json={"message": f"No commit found for SHA: {ref}"})
        if request.headers.get("accept") == SHA_MEDIA_TYPE:
            return httpx.Response(200, text=sha)
        return httpx.Response(200, json={"sha": sha, "files": []})

    def _entry(self, commit: str, path: str) -> tuple[str, str, str, str, str] | None:
        listing = self._git_bytes("ls-tree", "-l", "-z", "--full-tree", commit, "--", path)
        return next((record for record in _ls_tree(listing) if record[4] == path), None)

    def _rev(self, name: str) -> str | None:
        return self._try_git("rev-parse", "--verify", "--quiet", "--end-of-options", name)

    def _try_git(self, *args: str) -> str | None:
        try:
            return git(self.repo, *args)
        except subprocess.CalledProcessError:
            return None

    def _git_bytes(self, *args: str) -> bytes:
        command = ["git", "-C", str(self.repo), *args]
        return subprocess.run(command, env=GIT_ENV, capture_output=True, check=True).stdout


def github_source(http: httpx.AsyncClient, token: str = TOKEN) -> GitHubSource:
    """The source under test, pointed at the fake."""
    return GitHubSource(http, REPOSITORY, StaticToken(token), api_url=API_URL)


def _ls_tree(listing: bytes) -> list[tuple[str, str, str, str, str]]:
    records = []
    for record in listing.split(b"\0"):
        if record:
            meta, _, path = record.partition(b"\t")
            mode, kind, sha, size = meta.decode().split()
            records.append((mode, kind, sha, size, path.decode()))
    return records


def _tree_item(mode: str, kind: str, sha: str, size: str, path: str) -> dict[str, Any]:
    item: dict[str, Any] = {"path": path, "mode": mode, "type": kind, "sha": sha}
    if kind == "blob":
        item["size"] = int(size)
    return item


def _content_stub(parent: str, mode: str, kind: str, sha: str, size: str, name: str) -> Any:
    types = {"tree": "dir", "commit": "submodule"}
    kind = "symlink" if mode == _SYMLINK else types.get(kind, "file")
    return {"type": kind, "name": name, "path": f"{parent}/{name}", "sha": sha}


def _compare_files(raw: bytes) -> list[dict[str, Any]]:
    fields = iter(raw.split(b"\0"))
    files = []
    for header in fields:
        if not header:
            continue
        _old_mode, _new_mode, old_sha, new_sha, status = header.decode()[1:].split()
        first = next(fields).decode()
        file: dict[str, Any] = {"status": _STATUSES[status[0]], "filename": first}
        if status.startswith("R"):
            file |= {"previous_filename": first, "filename": next(fields).decode()}
        file["sha"] = old_sha if status == "D" else new_sha
        files.append(file)
    return files


def _b64(content: bytes) -> str:
    # GitHub breaks base64 content into lines of 60 characters.
    encoded = base64.b64encode(content).decode()
    return "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"
