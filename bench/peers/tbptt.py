"""What the PyTorch peers share with each other and with src/engine: code-point ids, the B-stream
layout of src/data/batcher.ts, the LSTM's zero state, and one stateful truncated-BPTT step (of
any nn.LSTM / nn.GRU model).

Import it after setting OPENBLAS_NUM_THREADS: importing torch loads OpenBLAS.
"""

import numpy as np
import torch
from torch import nn


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
