#!/usr/bin/python3
"""The PyTorch peer for a wall-clock race: train a char-LSTM or char-GRU for --minutes, validating as `rnn train` does.

Model: Embedding(V, E) → nn.LSTM or nn.GRU (--cell) (E, H, num_layers=L, dropout=p) → Dropout(p) → Linear(H, V), i.e.
dropout between the stacked layers and before the decoder, as `rnn train --dropout p` places it.
Training is stateful truncated BPTT as in src/engine/trainer.ts and bench/peers/pytorch_lstm.py:
B contiguous streams over the training split, windows of T steps, the state carried and
detached, a zero state at each new epoch; mean cross-entropy; clip_grad_norm_ --clip; Adam --lr,
at a constant rate unless --cosine (to --min-lr at the end of the time budget, as ours).
--average-tail F keeps ours's tail weight averaging (src/engine/tail-average.ts): over the last
fraction F of the budget a running mean of the weights, a point every 4 iterations, which the
validation passes score (the raw weights go back for training), and at the end the raw weights
scored too, the lower of the two kept, as ours ends (src/engine/trainer.ts chooseAtEnd): the
summary's "end_choice" holds both, and its "raw_val_loss" is what the same run without averaging
ends on (averaging never changes the steps); 0, the default, is off.

Split and evaluation are ours: the last floor(N·0.1) characters are validation (src/data/corpus.ts
splitCorpus), or with --val-split blocks every 10th block of the text (src/data/split.ts), and
never trained on; a validation pass is src/engine/evaluator.ts's Evaluator: the
split cut into --eval-batch streams of floor(n / B) characters, each from a zero state, scored
window by window (--eval-seq-len) with the state carried, the last partial window included:
mean nats per predicted character. Give it the B and T of the `rnn train` run it races.

The clock is wall-clock from the first training step and includes the validation passes, as
`rnn train --time` does; a pass runs every --eval-every-s seconds and once at the end, and the end's
passes come out of the budget as ours (src/engine/schedule.ts endReserveMs): training stops, annealed,
when what is left is what they take (the last pass's time, or before one, a third of training's time
on as many characters), at most a quarter of the budget. Each pass
prints one JSON line on stdout: {"elapsed_s", "iteration", "chars", "val_loss", "train_loss"};
the last line is a summary with "final": true.

    OPENBLAS_NUM_THREADS is set from --blas-threads before torch loads (best here: torch 1 thread,
    OpenBLAS 2, the defaults).

    /usr/bin/python3 bench/peers/pytorch_train.py --corpus corpora/tinyshakespeare.txt --minutes 15 \
        --hidden 512 --dropout 0.25
"""

import argparse
import json
import math
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="corpora/tinyshakespeare.txt")
    p.add_argument("--minutes", type=float, default=15)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--seq-len", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--cosine", action="store_true", help="cosine-decay the rate to --min-lr over the budget")
    p.add_argument("--min-lr", type=float, default=2e-4)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--average-tail", type=float, default=0.0, help="average the weights over the last fraction of the budget (0: off)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--val-split", choices=["tail", "blocks"], default="tail", help="which characters are validation, as rnn train --val-split")
    p.add_argument("--eval-batch", type=int, default=32)
    p.add_argument("--eval-seq-len", type=int, default=64)
    p.add_argument("--eval-every-s", type=float, default=60)
    p.add_argument("--eval-every-iters", type=int, default=0,
                   help="validate every n iterations instead of every --eval-every-s seconds (0: by seconds), as rnn train --eval-every")
    p.add_argument("--max-iters", type=int, default=0,
                   help="stop after n iterations, the schedule annealing to whichever of n and --minutes comes first, as rnn train "
                        "--max-iters with --time (0: the time alone)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--blas-threads", type=int, default=2)
    return p.parse_args()


ARGS = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)  # must precede loading OpenBLAS

import torch  # noqa: E402
from torch import nn  # noqa: E402

from tbptt import encode, split_parts, streams_of, train_window, zero_state as lstm_zero_state  # noqa: E402

torch.set_num_threads(ARGS.threads)

END_SHARE = 0.25  # the most of the budget the end keeps back, as src/engine/schedule.ts END_SHARE


class CharRNN(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, ARGS.embedding)
        cell = nn.LSTM if ARGS.cell == "lstm" else nn.GRU
        self.rnn = cell(ARGS.embedding, ARGS.hidden, num_layers=ARGS.layers, dropout=ARGS.dropout)
        self.drop = nn.Dropout(ARGS.dropout)
        self.decoder = nn.Linear(ARGS.hidden, vocab_size)

    def forward(self, inputs, state):
        # inputs: [T, B] → logits: [T, B, V]
        out, state = self.rnn(self.embedding(inputs), state)
        return self.decoder(self.drop(out)), state


def zero_state(batch):
    h, c = lstm_zero_state(ARGS.layers, batch, ARGS.hidden)
    return (h, c) if ARGS.cell == "lstm" else h


def validation_loss(model, val):
    """The Evaluator's pass: B streams from a zero state, T-step windows, the remainder too."""
    B = max(1, min(ARGS.eval_batch, len(val) // (ARGS.eval_seq_len + 1)))
    streams, length = streams_of(val, B)
    total, count = 0.0, 0
    state = zero_state(B)
    model.eval()
    with torch.no_grad():
        start = 0
        while start < length - 1:
            steps = min(ARGS.eval_seq_len, length - 1 - start)
            inputs = streams[start : start + steps]
            targets = streams[start + 1 : start + steps + 1]
            logits, state = model(inputs, state)
            total += nn.functional.cross_entropy(logits.reshape(steps * B, -1), targets.reshape(-1), reduction="sum").item()
            count += steps * B
            start += steps
    model.train()
    return total / count


def main():
    torch.manual_seed(ARGS.seed)
    with open(ARGS.corpus, encoding="utf-8") as f:
        text = f.read()
    chars, ids = encode(text)
    train_ids, val_ids = split_parts(ids, ARGS.val_fraction, ARGS.val_split)

    model = CharRNN(len(chars))
    optimizer = torch.optim.Adam(model.parameters(), lr=ARGS.lr)
    B, T = ARGS.batch, ARGS.seq_len
    streams, length = streams_of(train_ids, B)
    windows = (length - 1) // T
    budget_s = ARGS.minutes * 60

    started = time.perf_counter()
    next_eval = ARGS.eval_every_s
    iteration, loss_sum, loss_steps = 0, 0.0, 0
    state = zero_state(B)
    best = None

    mean, averaged = [torch.zeros_like(p) for p in model.parameters()], 0
    # The end's reserve, as src/engine/trainer.ts reserveMs: its passes (the mean's, and the raw weights'
    # beside an averaged tail), each as long as the last pass, at most END_SHARE of the budget.
    end_passes, pass_s, fraction_seen = (2 if ARGS.average_tail > 0 else 1), None, 0.0

    def reserve_s(elapsed):
        per_pass = pass_s
        if per_pass is None:
            if iteration == 0:
                return 0.0
            per_pass = len(val_ids) * elapsed / (3 * iteration * B * T)
        return min(end_passes * per_pass, END_SHARE * budget_s)

    def scored():
        """Validation loss of the running mean once it has a point (the raw weights restored after)."""
        if averaged == 0:
            return validation_loss(model, val_ids)
        raw = [p.detach().clone() for p in model.parameters()]
        with torch.no_grad():
            for p, m in zip(model.parameters(), mean):
                p.copy_(m)
        try:
            return validation_loss(model, val_ids)
        finally:
            with torch.no_grad():
                for p, r in zip(model.parameters(), raw):
                    p.copy_(r)

    def report(final):
        nonlocal loss_sum, loss_steps, best, pass_s
        pass_started = time.perf_counter()
        val = scored()
        pass_s = time.perf_counter() - pass_started
        choice = None
        if final and averaged > 0:
            raw = validation_loss(model, val_ids)
            choice = {"mean": val, "raw": raw, "chose": "raw" if raw < val else "mean"}
            val = min(val, raw)
        best = val if best is None else min(best, val)
        line = {"elapsed_s": round(time.perf_counter() - started, 2), "iteration": iteration, "chars": iteration * B * T,
                "val_loss": val, "train_loss": loss_sum / loss_steps if loss_steps else None}
        if final:
            line.update({"final": True, "best_val_loss": best, "end_choice": choice,
                         "raw_val_loss": choice["raw"] if choice else val, "torch_version": torch.__version__, "threads": torch.get_num_threads(),
                         "blas_threads": ARGS.blas_threads, "averaged": averaged, "parameters": sum(p.numel() for p in model.parameters()),
                         "settings": {k: v for k, v in vars(ARGS).items() if k != "corpus"}})
        print(json.dumps(line), flush=True)
        loss_sum, loss_steps = 0.0, 0

    loss_fn = nn.CrossEntropyLoss()  # mean over B·T
    while True:
        elapsed = time.perf_counter() - started
        reserve = reserve_s(elapsed)
        if elapsed + reserve >= budget_s or (ARGS.max_iters and iteration >= ARGS.max_iters):
            break
        if ARGS.eval_every_iters:
            if iteration > 0 and iteration % ARGS.eval_every_iters == 0 and loss_steps > 0:
                report(False)
        elif elapsed >= next_eval:
            report(False)
            next_eval += ARGS.eval_every_s
            continue
        fraction = min(1.0, max(fraction_seen, elapsed / max(1e-3, budget_s - reserve), iteration / ARGS.max_iters if ARGS.max_iters else 0.0))
        fraction_seen = fraction
        if ARGS.cosine:
            rate = ARGS.min_lr + 0.5 * (ARGS.lr - ARGS.min_lr) * (1 + math.cos(math.pi * fraction))
            for group in optimizer.param_groups:
                group["lr"] = rate
        w = iteration % windows
        if w == 0:
            state = zero_state(B)  # a new epoch: the old state belongs to other text
        loss, state = train_window(model, optimizer, loss_fn, streams, w, T, state, ARGS.clip)
        iteration += 1
        if ARGS.average_tail > 0 and fraction >= 1 - ARGS.average_tail and iteration % 4 == 0:
            averaged += 1
            with torch.no_grad():
                for p, m in zip(model.parameters(), mean):
                    m.add_((p - m) / averaged)
        loss_sum += loss.item()
        loss_steps += 1
    report(True)


if __name__ == "__main__":
    sys.exit(main())
