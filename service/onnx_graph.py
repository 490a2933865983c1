"""Keep a quantized model's embedding tables quantized while it runs.

The local model stores each weight as int8 with a float scale per row, and looks up a token's
vector as `Gather(Mul(Cast(table), scale), ids)`. ONNX Runtime folds the `Cast` and the `Mul`
once, when it loads the model, so the word table (30,522 by 384) stays resident as 47 MB of
float32 to gather a few hundred rows per batch. `gather_rows_first` rewrites each such lookup as
`Mul(Cast(Gather(table, ids)), Gather(scale, ids))`: the same vectors bit for bit, at the same
speed, with the table held as its 12 MB of int8 (33 MB less for the life of the process).

The model is a protobuf (onnx.proto); this module reads and writes the few fields it needs
straight from the wire format, rather than depend on the `onnx` package for one rewrite. Every
other field is copied byte for byte, and a model without the pattern comes back unchanged.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

# Field numbers of onnx.proto.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_OUTPUT = 1, 5, 12
_VALUE_INFO_NAME = 1
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 3, 4, 5
_NODE_DOMAIN = 7
_ATTRIBUTE_NAME, _ATTRIBUTE_INT = 1, 3
_TENSOR_DIMS, _TENSOR_NAME = 1, 8

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


@dataclass
class _Field:
    number: int
    value: int | bytes  # an int for a varint, the payload's bytes otherwise
    raw: bytes  # the whole field as it was read: key, length and payload


@dataclass
class _Node:
    payload: bytes
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    name: str = ""
    op_type: str = ""
    domain: str = ""
    axis: int = 0


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(data: bytes) -> Iterator[_Field]:
    position = 0
    while position < len(data):
        start = position
        key, position = _read_varint(data, position)
        number, kind = key >> 3, key & 7
        value: int | bytes
        if kind == _VARINT:
            value, position = _read_varint(data, position)
        elif kind == _LENGTH:
            length, position = _read_varint(data, position)
            value, position = data[position : position + length], position + length
        elif kind in (_FIXED64, _FIXED32):
            size = 8 if kind == _FIXED64 else 4
            value, position = data[position : position + size], position + size
        else:
            raise ValueError(f"unsupported protobuf wire type {kind}")
        yield _Field(number, value, data[start:position])


def _payloads(data: bytes, number: int) -> Iterator[bytes]:
    """The payloads of the length-delimited fields numbered `number` in `data`."""
    for f in _fields(data):
        if f.number == number and isinstance(f.value, bytes):
            yield f.value


def _length_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH) + _varint(len(payload)) + payload


def _text(value: int | bytes) -> str:
    assert isinstance(value, bytes)
    return value.decode()


def _node(payload: bytes) -> _Node:
    node = _Node(payload)
    for f in _fields(payload):
        if f.number == _NODE_INPUT:
            node.inputs.append(_text(f.value))
        elif f.number == _NODE_OUTPUT:
            node.outputs.append(_text(f.value))
        elif f.number == _NODE_NAME:
            node.name = _text(f.value)
        elif f.number == _NODE_OP_TYPE:
            node.op_type = _text(f.value)
        elif f.number == _NODE_DOMAIN:
            node.domain = _text(f.value)
        elif f.number == _NODE_ATTRIBUTE:
            assert isinstance(f.value, bytes)
            attribute = {a.number: a.value for a in _fields(f.value)}
            if attribute.get(_ATTRIBUTE_NAME) == b"axis":
                axis = attribute.get(_ATTRIBUTE_INT, 0)
                assert isinstance(axis, int)
                node.axis = axis if axis < 1 << 63 else axis - (1 << 64)
    return node


def _initializer_dims(payload: bytes) -> tuple[str, list[int]]:
    name, dims = "", []
    for f in _fields(payload):
        if f.number == _TENSOR_NAME:
            name = _text(f.value)
        elif f.number == _TENSOR_DIMS and isinstance(f.value, int):
            dims.append(f.value)
        elif f.number == _TENSOR_DIMS and isinstance(f.value, bytes):  # packed
            position = 0
            while position < len(f.value):
                dim, position = _read_varint(f.value, position)
                dims.append(dim)
    return name, dims


def _rewired(node: _Node, name: str, inputs: list[str], outputs: list[str]) -> bytes:
    """`node` as a graph field, named `name`, reading `inputs` and writing `outputs`; its type,
    domain and attributes as they were."""
    kept = (
        f.raw
        for f in _fields(node.payload)
        if f.number not in (_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME)
    )
    payload = b"".join(
        [
            *(_length_field(_NODE_INPUT, i.encode()) for i in inputs),
            *(_length_field(_NODE_OUTPUT, o.encode()) for o in outputs),
            _length_field(_NODE_NAME, name.encode()),
            *kept,
        ]
    )
    return _length_field(_GRAPH_NODE, payload)


def _rewrite_graph(graph: bytes) -> bytes | None:
    fields = list(_fields(graph))
    nodes = {
        i: _node(f.value)
        for i, f in enumerate(fields)
        if f.number == _GRAPH_NODE and isinstance(f.value, bytes)
    }
    dims = dict(_initializer_dims(tensor) for tensor in _payloads(graph, _GRAPH_INITIALIZER))
    producers = {output: i for i, node in nodes.items() for output in node.outputs}
    readers = Counter(name for node in nodes.values() for name in node.inputs)
    readers.update(
        _text(f.value)
        for v in _payloads(graph, _GRAPH_OUTPUT)
        for f in _fields(v)
        if f.number == _VALUE_INFO_NAME
    )

    def sole_producer(name: str, op_type: str) -> int | None:
        """The node of `op_type` that makes `name`, when the value is read once and only there."""
        index = producers.get(name)
        if index is None or readers[name] != 1:
            return None
        node = nodes[index]
        return index if node.op_type == op_type and not node.domain else None

    replaced: dict[int, bytes] = {}
    for g, gather in nodes.items():
        if gather.op_type != "Gather" or gather.domain or gather.axis != 0:
            continue
        m = sole_producer(gather.inputs[0], "Mul")
        c = sole_producer(nodes[m].inputs[0], "Cast") if m is not None else None
        if m is None or c is None or len(nodes[m].inputs) != 2 or len(nodes[c].inputs) != 1:
            continue
        mul, cast = nodes[m], nodes[c]
        table, scale = dims.get(cast.inputs[0], []), dims.get(mul.inputs[1])
        if len(table) != 2 or scale != [table[0], 1]:  # not a table with a scale per row
            continue
        ids, out = gather.inputs[1], gather.outputs[0]
        rows_int8, rows, scales = f"{out}/int8_rows", f"{out}/rows", f"{out}/scales"
        # Cast and Mul read only initializers, so they may move down to where the Gather was.
        replaced[c] = replaced[m] = b""
        replaced[g] = b"".join(
            [
                _rewired(gather, gather.name, [cast.inputs[0], ids], [rows_int8]),
                _rewired(gather, f"{gather.name}/scales", [mul.inputs[1], ids], [scales]),
                _rewired(cast, cast.name, [rows_int8], [rows]),
                _rewired(mul, mul.name, [rows, scales], [out]),
            ]
        )
    if not replaced:
        return None
    return b"".join(replaced.get(i, f.raw) for i, f in enumerate(fields))


def gather_rows_first(model: bytes) -> bytes:
    """`model` with each dequantized embedding lookup gathering its int8 rows before it
    dequantizes them (see the module's docstring); `model` itself when it has none."""
    out, changed = [], False
    for f in _fields(model):
        if f.number == _MODEL_GRAPH and isinstance(f.value, bytes):
            graph = _rewrite_graph(f.value)
            if graph is not None:
                out.append(_length_field(_MODEL_GRAPH, graph))
                changed = True
                continue
        out.append(f.raw)
    return b"".join(out) if changed else model
