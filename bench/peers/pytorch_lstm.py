#!/usr/bin/python3
"""The PyTorch CPU peer for our benchmark: the same char-LSTM, trained and sampled the same way.

Model: Embedding(V, E=64) → nn.LSTM(E, H, num_layers=L), time-major → Linear(H, V). Training is
stateful truncated BPTT as in src/engine/trainer.ts: B contiguous streams (stream b is
ids[b·S, (b+1)·S), S = N // B), windows of T steps, the hidden state carried across windows and
detached; mean cross-entropy; clip_grad_norm_ 5; Adam lr 2e-3.

Threading: torch.set_num_threads(1) with OPENBLAS_NUM_THREADS=2 is PyTorch's best setting on this
machine, so that is the default (--blas-threads changes it). OpenBLAS reads the variable when it is
loaded, so it is set below before torch is imported.

Run with the system interpreter (Debian 12: python3-torch, libopenblas0-pthread); the pyenv
python3 on PATH lacks Debian's packages:

    /usr/bin/python3 bench/peers/pytorch_lstm.py --corpus corpora/tinyshakespeare.txt --json
    /usr/bin/python3 bench/peers/pytorch_lstm.py --gemm --shapes 2500,64,512 2500,128,512 --json

Training mode prints (with --json, as one JSON object on stdout):
  train_chars_per_s   B·T·steps / seconds over the timed steps (after --warmup untimed ones)
  peak_rss_mb         the process's peak resident set (ru_maxrss), MiB
  sample_chars_per_s  batch 1, one character at a time, multinomial at temperature 0.8, after the first
  first_char_s        seconds from process start to the first sampled character written and flushed
                      (the time a user waits for `sample`: interpreter start, importing torch, building
                      the model, one step). Process start is --t0 (a Unix time in seconds the harness
                      takes just before it spawns us, which also counts exec) if given, else the
                      kernel's start time of this process (/proc/self/stat, 10 ms resolution);
                      first_char_clock says which. The model is fresh (random weights): loading a
                      3 MB checkpoint would add milliseconds, importing torch takes about a second.
  torch_version, threads (torch intra-op threads), blas_threads, and the settings used.
The sampled text goes to stdout, or to stderr with --json so that stdout stays one JSON object.
Sampling runs first, so its first character is not delayed by training.

GEMM mode (--gemm) prints torch.mm float32 GFLOP/s, best of --repeats, at 2048³ (a practical
ceiling for this machine under these threads) and at each --shapes M,K,N, so the benchmark can
report our kernels as ratios against it.
"""

import argparse
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="/work/shared/corpora/tinyshakespeare.txt", help="UTF-8 text to train on")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--batch", type=int, default=50, help="B: parallel streams")
    p.add_argument("--seq-len", type=int, default=50, help="T: steps per window")
    p.add_argument("--steps", type=int, default=20, help="timed training steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    p.add_argument("--sample-chars", type=int, default=500, help="characters to sample (0: skip sampling)")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--t0", type=float, default=None, help="Unix time (s) the harness launched us; see above")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--blas-threads", type=int, default=2, help="OPENBLAS_NUM_THREADS")
    p.add_argument("--gemm", action="store_true", help="probe torch.mm GFLOP/s instead of training")
    p.add_argument("--shapes", nargs="*", default=[], metavar="M,K,N", help="extra GEMM shapes for --gemm")
    p.add_argument("--repeats", type=int, default=5, help="GEMM timings per shape; the best is kept")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return p.parse_args()


ARGS = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)  # must precede loading OpenBLAS

import json  # noqa: E402
import resource  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from tbptt import encode, streams_of, train_window, zero_state as lstm_zero_state  # noqa: E402

torch.set_num_threads(ARGS.threads)


def process_start_time():
    """(Unix time this process started, how it was found)."""
    if ARGS.t0 is not None:
        return ARGS.t0, "t0"
    # Field 22 of /proc/self/stat: start time in clock ticks after boot; the comm field (2) may
    # hold spaces, so split after its closing parenthesis.
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    start_ticks = int(fields[19])
    with open("/proc/stat") as f:
        boot_time = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    return boot_time + start_ticks / os.sysconf("SC_CLK_TCK"), "proc-starttime"


class CharLSTM(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, ARGS.embedding)
        self.lstm = nn.LSTM(ARGS.embedding, ARGS.hidden, num_layers=ARGS.layers)  # time-major
        self.decoder = nn.Linear(ARGS.hidden, vocab_size)

    def forward(self, inputs, state):
        # inputs: [T, B] → logits: [T, B, V]
        out, state = self.lstm(self.embedding(inputs), state)
        return self.decoder(out), state


def zero_state(batch):
    return lstm_zero_state(ARGS.layers, batch, ARGS.hidden)


def sample(model, chars, out):
    """Generates --sample-chars characters one at a time; returns (first_char_time, chars_per_s)."""
    state = zero_state(1)
    token = torch.zeros((1, 1), dtype=torch.long)  # start from id 0
    first_char_time = None
    started = time.time()
    with torch.no_grad():
        for i in range(ARGS.sample_chars):
            logits, state = model(token, state)
            probs = torch.softmax(logits[0, 0] / ARGS.temperature, dim=-1)
            token = torch.multinomial(probs, 1).view(1, 1)
            out.write(chars[token.item()])
            out.flush()
            if i == 0:
                first_char_time = time.time()
                started = first_char_time
    rest = ARGS.sample_chars - 1
    per_s = rest / (time.time() - started) if rest > 0 else None
    out.write("\n")
    return first_char_time, per_s


def train(model, ids):
    """Runs --warmup then --steps training steps; returns characters per second over the timed ones."""
    B, T = ARGS.batch, ARGS.seq_len
    streams, S = streams_of(ids, B)  # [S, B], time-major
    windows = (S - 1) // T
    if windows < 1:
        sys.exit(f"pytorch_lstm.py: {len(ids)} characters cannot make {B} streams of {T + 1}")
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()  # mean over B·T
    state = zero_state(B)
    if ARGS.steps <= 0:
        return None  # sampling only
    started = None
    for step in range(ARGS.warmup + ARGS.steps):
        if step == ARGS.warmup:
            started = time.perf_counter()
        w = step % windows
        if w == 0:
            state = zero_state(B)  # the streams start over: the old state belongs to other text
        _, state = train_window(model, optimizer, loss_fn, streams, w, T, state, 5.0)
    elapsed = time.perf_counter() - started
    return ARGS.steps * B * T / elapsed


def run_training():
    t0, clock = process_start_time()
    torch.manual_seed(ARGS.seed)
    with open(ARGS.corpus, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))  # code points, as Vocab.fromText
    model = CharLSTM(len(chars))

    first_char_s, sample_per_s = None, None
    if ARGS.sample_chars > 0:
        first_char_time, sample_per_s = sample(model, chars, sys.stderr if ARGS.json else sys.stdout)
        first_char_s = first_char_time - t0

    _, ids = encode(text, chars)  # after sampling, so its first character waits for nothing
    train_per_s = train(model, ids)

    return {
        "train_chars_per_s": train_per_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "sample_chars_per_s": sample_per_s,
        "first_char_s": first_char_s,
        "first_char_clock": clock,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas_threads": ARGS.blas_threads,
        "settings": {
            "layers": ARGS.layers, "hidden": ARGS.hidden, "embedding": ARGS.embedding, "vocab": len(chars),
            "batch": ARGS.batch, "seq_len": ARGS.seq_len, "steps": ARGS.steps, "warmup": ARGS.warmup,
            "sample_chars": ARGS.sample_chars, "temperature": ARGS.temperature,
        },
    }


def gemm_gflops(m, k, n):
    """Best-of-repeats float32 torch.mm throughput for [m, k] · [k, n]."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    torch.mm(a, b, out=out)  # warm: page in, let OpenBLAS start its threads
    best = float("inf")
    for _ in range(ARGS.repeats):
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - started)
    return 2 * m * k * n / best / 1e9


def run_gemm():
    shapes = [(2048, 2048, 2048)]
    for spec in ARGS.shapes:
        try:
            m, k, n = (int(x) for x in spec.split(","))
        except ValueError:
            sys.exit(f"pytorch_lstm.py: --shapes takes M,K,N triples like 2500,64,512; got {spec!r}")
        shapes.append((m, k, n))
    return {
        "gemm": [{"m": m, "k": k, "n": n, "gflops": gemm_gflops(m, k, n)} for m, k, n in shapes],
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas_threads": ARGS.blas_threads,
    }


def main():
    result = run_gemm() if ARGS.gemm else run_training()
    if ARGS.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
