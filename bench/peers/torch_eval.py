#!/usr/bin/python3
"""Loads an rnn checkpoint into PyTorch by name and evaluates it: the proof that our files are PyTorch's.

Builds nn.Embedding → nn.LSTM | nn.GRU | nn.RNN (from the checkpoint's model_config.cell) → nn.Linear,
loads the safetensors file with load_state_dict(strict=False) (the header is parsed by hand: Debian
has no python3-safetensors), and reports what did not load: `unexpected` lists the tensors PyTorch's
module has no place for (optimizer.*, state.*, and the peephole LSTM's lstm.weight_peep_l*), and
`missing` must be empty. Then it scores a text as `rnn eval --batch 1` does: one stream from a zero
state, every character predicted from all before it, mean cross-entropy in nats/char, in float64.

    /usr/bin/python3 bench/peers/torch_eval.py --checkpoint checkpoints/bundled/tinyshakespeare-2x640.safetensors \
        --text corpora/tinyshakespeare.txt --split val --json

--split val takes the code points `rnn train` held out: the last floor(N·f), f the checkpoint's
--val-fraction, or its blocks when the checkpoint records --val-split blocks (src/data/split.ts); --split all scores the
whole text. The peephole LSTM has no PyTorch module, and PyTorch's modules have no zoneout: such a
checkpoint still loads into nn.LSTM / nn.GRU / nn.RNN by name (the peepholes, `lstm.weight_peep_l*`,
left over), and is then scored by a step-by-step loop over those modules' own parameters that adds
what they lack: the peepholes, and zoneout's evaluation-time expectation h_t = p·h_{t-1} + (1−p)·h̃_t
(c likewise, with its own p where --zoneout-cell gave one), as `rnn eval` applies it (`stepwise` in the output says which way it was scored).
"""

import argparse
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

from tbptt import split_parts

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    metadata = header.pop("__metadata__", {})
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        array = np.frombuffer(raw[base + start : base + end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.astype(np.float64))
    return tensors, metadata


class CharRNN(nn.Module):
    def __init__(self, config):
        super().__init__()
        V, E, H, L = config["vocabSize"], config["embeddingSize"], config["hiddenSize"], config["layers"]
        cell = config.get("cell", "lstm")
        self.cell = cell
        self.embedding = nn.Embedding(V, E)
        if cell in ("lstm", "peephole"):
            self.module_name, module = "lstm", nn.LSTM(E, H, num_layers=L)
        elif cell == "gru":
            self.module_name, module = "gru", nn.GRU(E, H, num_layers=L)
        else:
            self.module_name, module = "rnn", nn.RNN(E, H, num_layers=L, nonlinearity=cell.split("-")[1])
        setattr(self, self.module_name, module)
        self.decoder = nn.Linear(H, V)

    def forward(self, inputs, state=None):
        out, state = getattr(self, self.module_name)(self.embedding(inputs), state)
        return self.decoder(out), state


class Stepwise(nn.Module):
    """The same network, step by step over the loaded module's parameters (PyTorch's names), with
    the peepholes and zoneout's expectation that nn.LSTM / nn.GRU / nn.RNN have no place for."""

    def __init__(self, model, config, tensors):
        super().__init__()
        self.model, self.cell, self.layers = model, model.cell, config["layers"]
        self.zoneout = float(config.get("zoneout", 0))
        self.zoneout_c = float(config.get("zoneoutCell", self.zoneout))  # an LSTM's c may have its own
        self.peep = ([tensors[f"lstm.weight_peep_l{l}"] for l in range(self.layers)]
                     if self.cell == "peephole" else None)

    def layer(self, l, x, h, c):
        """One layer over x [T, B, in] from (h, c) [B, H]: its outputs [T, B, H] and final state."""
        m, p = getattr(self.model, self.model.module_name), self.zoneout
        w_ih, w_hh = getattr(m, f"weight_ih_l{l}"), getattr(m, f"weight_hh_l{l}")
        b_ih, b_hh = getattr(m, f"bias_ih_l{l}"), getattr(m, f"bias_hh_l{l}")
        xs = x @ w_ih.T + b_ih  # every step's input projection in one matmul
        outs = []
        for t in range(x.shape[0]):
            r = h @ w_hh.T + b_hh
            if self.cell in ("lstm", "peephole"):
                ai, af, ag, ao = (xs[t] + r).chunk(4, dim=1)
                if self.peep is not None:
                    w_ci, w_cf, w_co = self.peep[l].chunk(3)
                    ai, af = ai + w_ci * c, af + w_cf * c
                c_new = torch.sigmoid(af) * c + torch.sigmoid(ai) * torch.tanh(ag)
                if self.peep is not None:
                    ao = ao + w_co * c_new
                h_new = torch.sigmoid(ao) * torch.tanh(c_new)
                c = self.zoneout_c * c + (1 - self.zoneout_c) * c_new
            elif self.cell == "gru":
                xr, xz, xn = xs[t].chunk(3, dim=1)
                hr, hz, hn = r.chunk(3, dim=1)
                rg, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h_new = (1 - z) * torch.tanh(xn + rg * hn) + z * h
            else:
                a = xs[t] + r
                h_new = torch.tanh(a) if self.cell == "rnn-tanh" else torch.relu(a)
            h = p * h + (1 - p) * h_new
            outs.append(h)
        return torch.stack(outs), h, c

    def forward(self, inputs, state=None):
        x = self.model.embedding(inputs)
        B, H = inputs.shape[1], self.model.decoder.in_features
        if state is None:
            zero = x.new_zeros(B, H)
            state = [(zero, zero) for _ in range(self.layers)]
        carried = []
        for l in range(self.layers):
            x, h, c = self.layer(l, x, *state[l])
            carried.append((h, c))
        return self.model.decoder(x), carried


def code_points(path):
    with open(path, encoding="utf-8") as f:
        return list(f.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--split", choices=["val", "all"], default="val")
    ap.add_argument("--val-fraction", type=float, default=None, help="default: the checkpoint's training config")
    ap.add_argument("--window", type=int, default=4096, help="characters per forward call (the state carries)")
    ap.add_argument("--windows", type=int, default=0, metavar="N",
                    help="instead: mean loss over random N-character windows of the split, each from a zero state "
                         "(nanoGPT's evaluation: block_size 256 scores all N predictions of N+1 characters)")
    ap.add_argument("--count", type=int, default=2000, help="windows to draw with --windows")
    ap.add_argument("--seed", type=int, default=0, help="window positions with --windows")
    ap.add_argument("--zoneout", type=float, default=None,
                    help="score with this zoneout probability (of h and c) instead of the checkpoint's (0: as if it had none)")
    ap.add_argument("--zoneout-cell", type=float, default=None,
                    help="then score an LSTM's c with this zoneout probability instead")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)
    tensors, metadata = read_safetensors(args.checkpoint)
    config = json.loads(metadata["model_config"])
    if args.zoneout is not None:
        config["zoneout"] = args.zoneout
        config.pop("zoneoutCell", None)
    if args.zoneout_cell is not None:
        config["zoneoutCell"] = args.zoneout_cell
    vocab = [chr(c) for c in json.loads(metadata["vocab"])] if metadata["vocab"].startswith("[") else None
    if vocab is None:
        raise SystemExit("torch_eval: unreadable vocabulary in the checkpoint")
    model = CharRNN(config).double()
    result = model.load_state_dict(tensors, strict=False)
    if result.missing_keys:
        raise SystemExit(f"torch_eval: PyTorch's module lacks nothing it needs, yet these are missing: {result.missing_keys}")
    unexpected = sorted(result.unexpected_keys)
    weights_unexpected = [k for k in unexpected if not k.startswith(("optimizer.", "state."))]
    stepwise = config.get("cell") == "peephole" or config.get("zoneout", 0) > 0 or config.get("zoneoutCell", 0) > 0
    scorer = Stepwise(model, config, tensors) if stepwise else model

    chars = code_points(args.text)
    if args.split == "val":
        train_config = json.loads(metadata["train_config"])
        fraction = args.val_fraction if args.val_fraction is not None else train_config["valFraction"]
        chars = split_parts(chars, fraction, train_config.get("valSplit", "tail"))[1]
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sum(1 for ch in chars if ch not in index)
    if unknown:
        raise SystemExit(f"torch_eval: {unknown} characters of the text are not in the model's vocabulary")
    ids = torch.tensor([index[ch] for ch in chars])

    if args.windows > 0:
        g = torch.Generator().manual_seed(args.seed)
        starts = torch.randint(0, len(ids) - args.windows - 1, (args.count,), generator=g)
        total = 0.0
        with torch.no_grad():
            for chunk in starts.split(256):
                inputs = torch.stack([ids[s : s + args.windows] for s in chunk.tolist()], dim=1)  # [N, count]
                targets = torch.stack([ids[s + 1 : s + 1 + args.windows] for s in chunk.tolist()], dim=1)
                logits, _ = scorer(inputs)
                total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum").item()
        predicted = args.windows * args.count
        out = {"checkpoint": args.checkpoint, "cell": config.get("cell", "lstm"), "split": args.split,
               "windows": args.windows, "count": args.count, "seed": args.seed, "predicted": predicted, "stepwise": stepwise,
               "loss_nats": total / predicted, "torch_version": torch.__version__}
        print(json.dumps(out) if args.json else
              f"{out['cell']}: loss {out['loss_nats']:.6f} nats/char over {args.count} random {args.windows}-character windows, each from a zero state")
        return 0

    total, state = 0.0, None
    with torch.no_grad():
        for start in range(0, len(ids) - 1, args.window):
            inputs = ids[start : min(start + args.window, len(ids) - 1)]
            targets = ids[start + 1 : start + 1 + len(inputs)]
            logits, state = scorer(inputs.unsqueeze(1), state)
            total += nn.functional.cross_entropy(logits.squeeze(1), targets, reduction="sum").item()
    predicted = len(ids) - 1
    out = {
        "checkpoint": args.checkpoint, "cell": config.get("cell", "lstm"), "split": args.split,
        "characters": len(chars), "predicted": predicted, "loss_nats": total / predicted,
        "loaded": sorted(k for k in tensors if k not in result.unexpected_keys),
        "unexpected": weights_unexpected, "stepwise": stepwise,
        "torch_version": torch.__version__,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['cell']}: loss {out['loss_nats']:.6f} nats/char over {predicted} predictions; "
              f"loaded {len(out['loaded'])} tensors by name; not loaded (no place in PyTorch's module): {weights_unexpected or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
