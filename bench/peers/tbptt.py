"""What the PyTorch peers share with each other and with src/engine: code-point ids, the validation
split of src/data/split.ts, the B-stream layout of src/data/batcher.ts, the LSTM's zero state, and one stateful truncated-BPTT step (of
any nn.LSTM / nn.GRU model).

Import it after setting OPENBLAS_NUM_THREADS: importing torch loads OpenBLAS.
"""

import itertools
import math

import numpy as np
import torch
from torch import nn


def validation_ranges(n, fraction, split="tail"):
    """[start, end) ranges of the n code points held out for validation, as src/data/split.ts's
    validationRanges: the last floor(n·f) ('tail'), or block i of min(4096, n // 100) code points
    when floor((i+1)·f) > floor(i·f) ('blocks'), adjacent blocks joined."""
    if split == "tail":
        count = math.floor(n * fraction)
        return [(n - count, n)] if count > 0 else []
    if split != "blocks":
        raise SystemExit(f"unknown validation split {split!r}: tail or blocks")
    size = max(1, min(4096, n // 100))
    ranges = []
    for i in range(-(-n // size)):
        if math.floor((i + 1) * fraction) <= math.floor(i * fraction):
            continue
        start, end = i * size, min(n, i * size + size)
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def split_parts(seq, fraction, split="tail"):
    """(training part, validation part) of a sequence (a list or a 1-D tensor), each joined in text order."""
    val = validation_ranges(len(seq), fraction, split)
    train, at = [], 0
    for start, end in val:
        if start > at:
            train.append((at, start))
        at = end
    if at < len(seq):
        train.append((at, len(seq)))
    if torch.is_tensor(seq):
        join = lambda parts: torch.cat(parts) if parts else seq[:0]  # noqa: E731
    else:
        join = lambda parts: list(itertools.chain.from_iterable(parts))  # noqa: E731
    return join([seq[a:b] for a, b in train]), join([seq[a:b] for a, b in val])


def encode(text, chars=None):
    """(the sorted code points, as Vocab.fromText, and the text's ids as int64), without a Python
    int per character (that alone would add ~40 MB of RSS). `chars`: the code points, if known."""
    chars = sorted(set(text)) if chars is None else chars
    code_points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = np.searchsorted(np.array([ord(c) for c in chars], dtype=np.uint32), code_points).astype(np.int64)
    return chars, torch.from_numpy(ids)


def streams_of(ids, batch):
    """([S, B] time-major, S): stream b is ids[b·S, (b+1)·S), S = len // B (src/data/batcher.ts)."""
    length = len(ids) // batch
    return ids[: batch * length].view(batch, length).t().contiguous(), length


def zero_state(layers, batch, hidden):
    """nn.LSTM's (h, c), zeros: [layers, batch, hidden] each."""
    shape = (layers, batch, hidden)
    return torch.zeros(shape), torch.zeros(shape)


def train_window(model, optimizer, loss_fn, streams, w, T, state, clip):
    """Window w of every stream: forward from the detached carried state, mean cross-entropy,
    backward, clip_grad_norm_ to `clip`, one optimizer step. Returns (loss tensor, new state)."""
    B = streams.shape[1]
    inputs = streams[w * T : w * T + T]
    targets = streams[w * T + 1 : w * T + T + 1]
    # nn.LSTM's state is (h, c); nn.GRU's and nn.RNN's is h alone.
    state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    logits, state = model(inputs, state)
    loss = loss_fn(logits.reshape(T * B, -1), targets.reshape(T * B))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss, state
