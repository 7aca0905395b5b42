#!/usr/bin/python3
"""DDP is the same mathematics: under `torchrun --nproc_per_node 2`, each cell trains 20 steps on
2 ranks (gloo, loopback) and then on rank 0 alone (the LSTM and the GRU also with --weight-drop 0.3), from the same weights on the same global batch
of B = 5 streams (split 2 + 3, so an uneven share is covered too), through src/train/pytorch's
own Run. Rank 0 prints one JSON line: per cell, the losses of both runs. test/train/pytorch/engine.test.ts
compares them.

    /usr/bin/python3 src/train/pytorch/torchrun.py --nproc_per_node 2 --nnodes 1 --rdzv_backend c10d \
        --rdzv_endpoint localhost:0 test/train/pytorch/ddp_same.py OUT_DIR
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # importing ddp_train from src/ must leave no __pycache__ there
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "src", "train", "pytorch"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import ddp_train  # noqa: E402

CELLS = ["lstm", "gru", "rnn-tanh", "rnn-relu"]
# (key, cell, --weight-drop): every cell plain, and two with W_hh's masks, which every rank must share.
RUNS = [(cell, cell, 0) for cell in CELLS] + [("lstm weight drop 0.3", "lstm", 0.3), ("gru weight drop 0.3", "gru", 0.3)]
V, E, H, L = 11, 6, 10, 2  # distinct sizes, two layers so the path between them is trained too


def plan_for(cell, out, tag, weight_drop=0):
    model_config = {"vocabSize": V, "embeddingSize": E, "hiddenSize": H, "layers": L, "cell": cell, "zoneout": 0}
    start = os.path.join(out, f"{cell}-start.safetensors")
    train_config = {
        "model": {k: model_config[k] for k in ("embeddingSize", "hiddenSize", "layers", "cell", "zoneout")},
        "seqLen": 8, "batchSize": 5, "learningRate": 0.01, "lrSchedule": "cosine", "warmupIters": 3, "minLr": 0.001,
        "dropout": 0, "weightDecay": 0.1, "init": "orthogonal", "clipNorm": 1.0, "clipValue": 0.5, "valFraction": 0.1,
        "maxIters": 20, "timeBudgetMs": 0, "evalEvery": 1, "saveEvery": 1000, "seed": 1, "averageTail": 0.3,
        **({"weightDrop": weight_drop} if weight_drop > 0 else {}),
    }
    return {
        "train": train_config, "model": model_config, "vocab": json.dumps(list(range(97, 97 + V))),
        "corpus": {"source": "ddp_same", "sha256": "0" * 64, "characters": 3000}, "start": start, "resume": False,
        "progress": {"iteration": 0, "epoch": 0, "window": 0, "bestValLoss": None, "lastValLoss": None, "lastTrainLoss": None,
                     "elapsedMs": 0, "history": []},
        "adamStep": 0, "trainTokens": {"path": os.path.join(out, "train.ids"), "dtype": "uint16"},
        "valTokens": {"path": os.path.join(out, "val.ids"), "dtype": "uint16"},
        "paths": {k: os.path.join(out, f"{cell}-{weight_drop}-{tag}{suffix}") for k, suffix in
                  (("latest", ".safetensors"), ("best", ".best.safetensors"), ("snapshots", ".snapshots"))},
        "quiet": True, "patience": 0, "log": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
    }


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    device = ddp_train.start_process_group()
    alone = dist.new_group([0])  # every rank must make it; only rank 0 trains in it
    rank = dist.get_rank()
    if rank == 0:
        ids = np.random.default_rng(7).integers(0, V, 3300).astype(np.uint16)
        ids[:3000].tofile(os.path.join(out, "train.ids"))
        ids[3000:].tofile(os.path.join(out, "val.ids"))
        for cell in CELLS:
            torch.manual_seed(3)
            model = ddp_train.CharRNN(plan_for(cell, out, "x")["model"], 0.0)
            ddp_train.write_atomic(os.path.join(out, f"{cell}-start.safetensors"),
                                   ddp_train.encode_safetensors(dict(model.named_parameters()), {"format": "rnn-checkpoint"}))
    dist.barrier()
    losses = {}
    for key, cell, weight_drop in RUNS:
        runs = [("two", None)] + ([("one", alone)] if rank == 0 else [])
        for tag, group in runs:
            run = ddp_train.Run(plan_for(cell, out, tag, weight_drop), device, group)
            run.load()
            result = run.train()
            losses.setdefault(key, {})[tag] = [point["trainLoss"] for point in result["progress"]["history"]]
        dist.barrier()
    if rank == 0:
        print(json.dumps({"losses": losses, "torch": torch.__version__}), flush=True)
    ddp_train.finish()  # without torch's teardown, which can deadlock (see there)


if __name__ == "__main__":
    main()
