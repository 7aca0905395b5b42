#!/usr/bin/python3
"""The PyTorch engine's weight drop is the witness's mathematics: ddp_train.CharRNN, given the masks
of test/fixtures/pytorch_witness/weight_drop_<cell>.json, runs its fused recurrence (torch._VF with
W_hh ⊙ mask) through the same 3 Adam steps in float64, and prints one JSON line: per cell, the
largest difference from the recorded losses and final weights (which torch's functional cells
made). test/train/pytorch/engine.test.ts reads it.

    /usr/bin/python3 test/train/pytorch/weight_drop_witness.py
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # importing ddp_train from src/ must leave no __pycache__ there
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "src", "train", "pytorch"))
WITNESS = os.path.join(HERE, "..", "..", "fixtures", "pytorch_witness")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import ddp_train  # noqa: E402


def replay(cell):
    with open(os.path.join(WITNESS, f"weight_drop_{cell}.json")) as f:
        w = json.load(f)
    s, adam = w["sizes"], w["adam"]
    model_config = {"vocabSize": s["V"], "embeddingSize": s["E"], "hiddenSize": s["H"], "layers": s["L"], "cell": cell}
    model = ddp_train.CharRNN(model_config, 0.0).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.tensor(w["initial_params"][name]["data"], dtype=torch.float64).reshape(p.shape))
    optimizer = torch.optim.Adam(model.parameters(), lr=adam["lr"], betas=(adam["beta1"], adam["beta2"]), eps=adam["eps"])
    state = model.zero_state(s["B"], "cpu")
    state = tuple(x.double() for x in state) if isinstance(state, tuple) else state.double()
    shape = getattr(model, model.module_name).weight_hh_l0.shape
    losses = []
    for step, batch in enumerate(w["batches"]):
        masks = [torch.tensor(m, dtype=torch.float64).reshape(shape) for m in w["masks"][step]]
        logits, state = model(torch.tensor(batch["inputs"]), ddp_train.detached(state), masks)
        loss = nn.functional.cross_entropy(logits.reshape(s["T"] * s["B"], -1), torch.tensor(batch["targets"]).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(list(model.parameters()), w["clip_norm"])
        optimizer.step()
        losses.append(loss.item())
    final = {n: p.detach().flatten() for n, p in model.named_parameters()}
    return {
        "loss": max(abs(a - b) for a, b in zip(losses, w["losses"])),
        "weights": max((final[n] - torch.tensor(w["final_params"][n]["data"], dtype=torch.float64)).abs().max().item() for n in final),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps({cell: replay(cell) for cell in ["lstm", "gru", "rnn-tanh", "rnn-relu"]}), flush=True)
