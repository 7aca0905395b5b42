#!/usr/bin/python3
"""The PyTorch engine of `rnn train --engine pytorch`: the same training on DistributedDataParallel under torchrun.

Started by src/train/pytorch/launch.ts as `torchrun --nproc_per_node N ddp_train.py PLAN.json`, one
process per rank (RANK, LOCAL_RANK, WORLD_SIZE from torchrun). The plan is the run `rnn train`
prepared: the frozen TrainConfig, the model config, the vocabulary, the corpus split as token-id
files, the checkpoint to start from (fresh weights our engine drew, an --init-from's, or the
checkpoint a --resume continues) and the paths to save to. Rank 0 writes our checkpoints and a
result file; the launcher reads it.

The model is src/engine/model.ts in PyTorch's own modules, under the names our checkpoints use:
    embedding (nn.Embedding V×E) → {lstm|gru|rnn} (nn.LSTM / nn.GRU / nn.RNN, L layers, dropout p
    between them) → dropout p → decoder (nn.Linear H→V) → softmax cross-entropy.
With --weight-drop p the recurrent module runs its own fused kernel (torch._VF, what nn.LSTM.forward
calls) with each layer's W_hh multiplied by the window's mask (0 or 1/(1 − p)), autograd taking the
gradient through the product to the raw weight, as src/engine/model.ts does.
The training is src/engine/trainer.ts's: stateful truncated BPTT over B contiguous streams of the
training split (src/data/batcher.ts: stream b is tokens[b·S, (b+1)·S), S = ⌊N/B⌋), windows of T
steps, the state carried detached, a zero state at each new epoch; AdamW (decay on the matrices
only, src/engine/optimizer.ts), clipping by value then by global norm, warm-up and the schedules
of src/engine/schedule.ts, tail averaging of src/engine/average.ts, validation as the Evaluator
does it, on rank 0.

DDP divides the B streams among the W ranks (rank r holds streams [r·B/W, (r+1)·B/W)), so the
global batch is B whatever W is. Each rank's loss is its summed cross-entropy × W / (B·T): DDP
averages the ranks' gradients, which makes the step the gradient of the mean over all B·T
predictions, as one process computes it, even when B does not split evenly.

Letters: B streams (global), b streams of this rank, T steps, E embedding, H hidden, V vocabulary,
L layers, W ranks.
"""

import signal

# Ctrl-C reaches the ranks as SIGTERM (launch.ts): caught before torch loads, which takes seconds,
# and turned by rank 0 into a stop that every rank takes at the next step, after a save.
INTERRUPTED = []
signal.signal(signal.SIGINT, lambda signum, frame: INTERRUPTED.append(signum))
signal.signal(signal.SIGTERM, lambda signum, frame: INTERRUPTED.append(signum))

import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

FORMAT, FORMAT_VERSION = "rnn-checkpoint", 1
ITERATE = "optimizer.iterate."  # the raw weights of an averaged tail, beside their mean (src/checkpoint/checkpoint.ts)
MEAN = "optimizer.mean."  # the mean, when the run's end chose the raw weights for the plain names (progress.endChoice)
AVERAGE_STRIDE = 4  # src/engine/average.ts: a point of the mean every 4 steps
STOP_REASONS = ["", "max-iters", "time", "interrupted", "patience"]
MODULES = {"lstm": "lstm", "gru": "gru", "rnn-tanh": "rnn", "rnn-relu": "rnn"}


class RunError(Exception):
    """A failure the user can act on: one line in the result file, no traceback. `everywhere`: every
    rank meets it at the same point (they stop together); otherwise rank 0 alone did, and it ends
    with a failure so that torchrun stops the ranks still waiting for it."""

    def __init__(self, message, everywhere=False):
        super().__init__(message)
        self.everywhere = everywhere


# ---------------------------------------------------------------------------------------------
# safetensors, as src/checkpoint/safetensors.ts writes it: tensors sorted by name, laid out
# contiguously, the JSON header padded with spaces to a multiple of 8. Read by hand (Debian
# has no python3-safetensors).

def read_safetensors(path):
    """(tensors as float32 torch tensors by name, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    metadata = header.pop("__metadata__", {})
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        dtype = {"F32": np.float32, "F16": np.float16}[info["dtype"]]
        array = np.frombuffer(raw, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize, offset=base + start)
        tensors[name] = torch.from_numpy(array.astype(np.float32).reshape(info["shape"]))
    return tensors, metadata


def encode_safetensors(tensors, metadata):
    """One safetensors image (bytes) of float32 tensors {name: tensor} and string metadata."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_atomic(target, data):
    """src/data/atomic.ts: a hidden temporary file beside the target, fsync, rename, fsync the folder."""
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".{os.path.basename(target)}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    try:
        with open(temp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, target)
    except OSError as err:
        try:
            os.unlink(temp)
        except OSError:
            pass
        kept = f"; {target} still holds the previous checkpoint" if os.path.exists(target) else ""
        raise RunError(f"cannot save {target}: {err.strerror or err}{kept}; free some space or give another --checkpoint-dir") from err
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # the new file is in place; only its survival of a power cut is less certain


def js_json(value):
    """JSON as JavaScript's JSON.stringify writes it: compact, and NaN/Infinity as null."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(value), separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# The model

class CharRNN(nn.Module):
    def __init__(self, model_config, dropout):
        super().__init__()
        V, E, H, L = (model_config[k] for k in ("vocabSize", "embeddingSize", "hiddenSize", "layers"))
        cell = model_config["cell"]
        self.module_name = MODULES[cell]
        self.carries_cell = cell == "lstm"
        self.layers, self.hidden = L, H
        self.embedding = nn.Embedding(V, E)
        between = dropout if L > 1 else 0.0  # nn.LSTM warns about dropout with one layer: nothing lies between
        if cell == "lstm":
            recurrent = nn.LSTM(E, H, num_layers=L, dropout=between)
        elif cell == "gru":
            recurrent = nn.GRU(E, H, num_layers=L, dropout=between)
        else:
            recurrent = nn.RNN(E, H, num_layers=L, nonlinearity=cell.split("-")[1], dropout=between)
        setattr(self, self.module_name, recurrent)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(H, V)

    def forward(self, inputs, state, hh_masks=None):
        # inputs: [T, b] → logits [T, b, V]; state: h [L, b, H] (and c for the LSTM);
        # hh_masks: None, or per layer the weight-drop mask of W_hh [G·H, H]
        recurrent = getattr(self, self.module_name)
        if hh_masks is None:
            out, state = recurrent(self.embedding(inputs), state)
        else:
            out, state = self.masked_recurrence(recurrent, self.embedding(inputs), state, hh_masks)
        return self.decoder(self.drop(out)), state

    def masked_recurrence(self, recurrent, x, state, hh_masks):
        """The module's own fused recurrence (torch._VF, as its forward calls it) with W_hh ⊙ mask in each layer."""
        names = recurrent._flat_weights_names  # per layer: weight_ih, weight_hh, bias_ih, bias_hh
        weights = [getattr(recurrent, name) for name in names]
        for l, mask in enumerate(hh_masks):
            i = names.index(f"weight_hh_l{l}")
            weights[i] = weights[i] * mask
        args = (weights, True, recurrent.num_layers, float(recurrent.dropout), self.training, False, False)
        if self.carries_cell:
            out, h, c = torch._VF.lstm(x, state, *args)
            return out, (h, c)
        if self.module_name == "gru":
            return torch._VF.gru(x, state, *args)
        run = torch._VF.rnn_tanh if recurrent.nonlinearity == "tanh" else torch._VF.rnn_relu
        return run(x, state, *args)

    def zero_state(self, batch, device):
        h = torch.zeros(self.layers, batch, self.hidden, device=device)
        return (h, torch.zeros_like(h)) if self.carries_cell else h


def split_state(state):
    """(h, c or None): [L, b, H] each."""
    return state if isinstance(state, tuple) else (state, None)


def detached(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


# ---------------------------------------------------------------------------------------------
# The schedule (src/engine/schedule.ts) and the tail average (src/engine/average.ts)

def run_progress(config, iteration, elapsed_ms, reserve_ms=0.0):
    progress = 0.0
    if config["maxIters"] > 0:
        progress = max(progress, iteration / config["maxIters"])
    if config["timeBudgetMs"] > 0:
        progress = max(progress, elapsed_ms / max(1.0, config["timeBudgetMs"] - reserve_ms))
    return min(1.0, max(0.0, progress))


END_SHARE = 0.25


def end_reserve_ms(budget_ms, passes, pass_ms):
    """What a --time run keeps back from training for its end's validation passes (src/engine/schedule.ts)."""
    if not budget_ms > 0 or not passes > 0 or not pass_ms > 0:
        return 0.0
    return min(passes * pass_ms, END_SHARE * budget_ms)


def learning_rate_at(config, iteration, progress):
    lr, min_lr, warmup = config["learningRate"], config["minLr"], config["warmupIters"]
    if warmup > 0 and iteration < warmup:
        return lr * (iteration + 1) / warmup
    schedule = config["lrSchedule"]
    if schedule == "cosine":
        return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "step":
        return max(min_lr, lr * (0.25 if progress >= 0.75 else 0.5 if progress >= 0.5 else 1))
    return lr


def in_average_tail(tail, fraction):
    return tail > 0 and fraction >= 1 - tail


class WeightAverage:
    """The running mean of the weights, float32, each update computed in float64 and rounded once."""

    def __init__(self, params):
        self.params = params
        self.mean = [torch.zeros_like(p, device="cpu") for p in params]
        self.count = 0

    def add(self):
        self.count += 1
        with torch.no_grad():
            for p, m in zip(self.params, self.mean):
                w = p.detach().to("cpu", torch.float64)
                m.copy_(w if self.count == 1 else m.double() + (w - m.double()) / self.count)

    def with_mean(self, fn):
        if self.count == 0:
            return fn()
        raw = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, m in zip(self.params, self.mean):
                p.copy_(m)
        try:
            return fn()
        finally:
            with torch.no_grad():
                for p, r in zip(self.params, raw):
                    p.copy_(r)


# ---------------------------------------------------------------------------------------------
# Validation: src/engine/trainer.ts's Evaluator

def validation_loss(model, val, batch, seq_len, device):
    """Mean nats/char over the whole split: B' streams from a zero state, windows of T, then the remainder."""
    if len(val) < 2:
        return None
    steps = min(seq_len, len(val) - 1)
    streams = max(1, min(batch, len(val) // (steps + 1)))
    length = len(val) // streams
    ids = val[: streams * length].view(streams, length).t().contiguous().to(device)  # [S', B']
    windows, rest = (length - 1) // steps, (length - 1) % steps
    total, count = 0.0, 0
    state = model.zero_state(streams, device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start, n in [(w * steps, steps) for w in range(windows)] + ([(windows * steps, rest)] if rest > 0 else []):
            logits, state = model(ids[start : start + n], state)
            loss = nn.functional.cross_entropy(logits.reshape(n * streams, -1), ids[start + 1 : start + n + 1].reshape(-1), reduction="sum")
            total += loss.item()  # a float32 sum per window, added up in float64, as ours
            count += n * streams
    model.train(was_training)
    return total / count


# ---------------------------------------------------------------------------------------------
# The run

def start_process_group():
    """NCCL on this rank's GPU where there is one (and a torch built with NCCL), else gloo on the CPU; returns the device."""
    cuda = torch.cuda.is_available() and dist.is_nccl_available()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    return device


class Run:
    """One rank's part of a run, over `group` (default: every rank), whose rank 0 is global rank 0."""

    def __init__(self, plan, device, group=None):
        self.plan = plan
        self.config = plan["train"]
        self.model_config = plan["model"]
        self.group = group
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        self.device = device
        cuda = device.type == "cuda"
        self.backend_name = f"pytorch {torch.__version__} DDP, {self.world} process{'es' if self.world != 1 else ''} " + (
            f"(nccl, {torch.cuda.get_device_name(self.device)})" if cuda else f"(gloo, cpu, {torch.get_num_threads()} thread(s) each)")

    def log(self, line):
        if self.rank == 0 and not self.plan["quiet"]:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def tokens(self, which):
        spec = self.plan[which]
        return torch.from_numpy(np.fromfile(spec["path"], dtype={"uint16": np.uint16, "int32": np.int32}[spec["dtype"]]).astype(np.int64))

    def load(self):
        """Builds the model, the optimizer and the progress from the plan's starting checkpoint."""
        config, plan = self.config, self.plan
        self.model = CharRNN(self.model_config, config["dropout"]).to(self.device)
        self.names = [name for name, _ in self.model.named_parameters()]
        self.params = [p for _, p in self.model.named_parameters()]
        tensors, metadata = read_safetensors(plan["start"])
        progress = plan["progress"]
        averaged = int(progress.get("averaged") or 0) if plan["resume"] else 0
        # An averaged tail's plain names hold the mean; the raw weights training goes on from are optimizer.iterate.*.
        source = (lambda name: ITERATE + name) if averaged > 0 else (lambda name: name)
        with torch.no_grad():
            for name, p in zip(self.names, self.params):
                if source(name) not in tensors:
                    raise RunError(f"{plan['start']} lacks tensor '{source(name)}'", everywhere=True)
                p.copy_(tensors[source(name)].reshape(p.shape))
        # AdamW with decay on the matrices only is Adam on the rest (src/engine/optimizer.ts `decays`).
        matrices = [p for p in self.params if p.dim() >= 2]
        vectors = [p for p in self.params if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": matrices, "weight_decay": config["weightDecay"]}, {"params": vectors, "weight_decay": 0.0}],
            lr=config["learningRate"], betas=(plan["beta1"], plan["beta2"]), eps=plan["eps"])
        self.average = WeightAverage(self.params) if config["averageTail"] > 0 else None
        B = config["batchSize"]
        self.carried = None  # the resumed state, [L, B, H] global, sliced to this rank's streams below
        if plan["resume"]:
            step = int(json.loads(metadata["optimizer"])["step"])
            for name, p in zip(self.names, self.params):
                self.optimizer.state[p] = {
                    "step": torch.tensor(float(step)),
                    "exp_avg": tensors[f"optimizer.exp_avg.{name}"].reshape(p.shape).to(self.device).clone(),
                    "exp_avg_sq": tensors[f"optimizer.exp_avg_sq.{name}"].reshape(p.shape).to(self.device).clone(),
                }
            if self.average is not None and averaged > 0:
                mean = MEAN if (progress.get("endChoice") or {}).get("chose") == "raw" else ""
                for name, m in zip(self.names, self.average.mean):
                    m.copy_(tensors[mean + name].reshape(m.shape))
                self.average.count = averaged
            L = self.model_config["layers"]
            h = torch.stack([tensors[f"state.h_l{l}"].reshape(B, -1) for l in range(L)])
            c = torch.stack([tensors[f"state.c_l{l}"].reshape(B, -1) for l in range(L)]) if self.model.carries_cell else None
            self.carried = (h, c)
        if self.average is None and progress.get("averaged"):
            progress["averaged"] = 0  # resumed with --average-tail 0: its mean is dropped
        self.progress = progress
        self.ddp = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None, process_group=self.group)

    def streams(self):
        """This rank's streams of the training split: ([S, b] time-major ids, S, first stream, b)."""
        train, B, W = self.tokens("trainTokens"), self.config["batchSize"], self.world
        length = len(train) // B
        first, last = self.rank * B // W, (self.rank + 1) * B // W
        ids = train[: B * length].view(B, length)[first:last].t().contiguous().to(self.device)
        return ids, length, first, last - first

    def gather_state(self, state, first, b):
        """The carried state of all B streams on every rank: (h, c or None), [L, B, H] each."""
        B = self.config["batchSize"]
        out = []
        for s in split_state(state):
            if s is None:
                out.append(None)
                continue
            full = torch.zeros(s.shape[0], B, s.shape[2], device=self.device)
            full[:, first : first + b] = s.detach()
            dist.all_reduce(full, group=self.group)  # each row is one rank's, the others add zeros
            out.append(full)
        return tuple(out)

    def save(self, path, progress, state, with_training):
        """One of our checkpoints (src/checkpoint/checkpoint.ts saveCheckpoint), rank 0 only. A training
        checkpoint's plain names hold the tail's mean once it has a point (the raw weights beside it as
        optimizer.iterate.*), unless the run's end chose the raw weights (the mean then beside them as
        optimizer.mean.*); a snapshot (weights only) holds the raw weights the optimizer visited."""
        averaged = with_training and self.average is not None and self.average.count > 0
        mean_named = averaged and (progress.get("endChoice") or {}).get("chose") != "raw"
        tensors = {}
        for i, (name, p) in enumerate(zip(self.names, self.params)):
            tensors[name] = self.average.mean[i] if mean_named else p
            if with_training:
                if averaged:
                    tensors[ITERATE + name] = p
                if averaged and not mean_named:
                    tensors[MEAN + name] = self.average.mean[i]
                moments = self.optimizer.state.get(p, {})
                tensors[f"optimizer.exp_avg.{name}"] = moments.get("exp_avg", torch.zeros_like(p))
                tensors[f"optimizer.exp_avg_sq.{name}"] = moments.get("exp_avg_sq", torch.zeros_like(p))
        if with_training:
            h, c = state
            for l in range(h.shape[0]):
                tensors[f"state.h_l{l}"] = h[l]
                if c is not None:
                    tensors[f"state.c_l{l}"] = c[l]
        plan = self.plan
        metadata = {
            "format": FORMAT, "format_version": str(FORMAT_VERSION),
            "model_config": js_json(self.model_config), "train_config": js_json(self.config), "vocab": plan["vocab"],
            "step": str(progress["iteration"]),
            "best_val_loss": "" if progress["bestValLoss"] is None else repr(float(progress["bestValLoss"])),
            "progress": js_json(progress), "corpus": js_json(plan["corpus"]),
            "optimizer": js_json({"name": "adam", "step": self.adam_step()}),
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        write_atomic(path, encode_safetensors(tensors, metadata))

    def hh_masks(self, iteration):
        """This window's weight-drop masks of W_hh, one per layer: 0 or 1/(1 − p), each weight kept with
        probability 1 − p. Drawn from a generator of their own seeded by the seed and the iteration
        alone, so every rank multiplies by the same weights and a resumed run draws what it would
        have, and dropout's masks stay what they were without weight drop."""
        p = self.config["weightDrop"]
        generator = torch.Generator().manual_seed((self.config["seed"] * 1000003 + iteration) * 7919 % (2 ** 63))
        shape = getattr(self.model, self.model.module_name).weight_hh_l0.shape
        return [((torch.rand(shape, generator=generator) >= p).float() / (1 - p)).to(self.device) for _ in range(self.model.layers)]

    def adam_step(self):
        moments = self.optimizer.state.get(self.params[0])
        if moments is None:
            return int(self.plan["adamStep"])
        step = moments["step"]
        return int(step.item() if torch.is_tensor(step) else step)

    def train(self):
        config, plan, progress = self.config, self.plan, self.progress
        B, T, W = config["batchSize"], config["seqLen"], self.world
        ids, length, first, b = self.streams()
        windows = (length - 1) // T
        val = self.tokens("valTokens") if self.rank == 0 else None
        paths = plan["paths"]
        state = self.model.zero_state(b, self.device)
        if self.carried is not None:
            h, c = self.carried
            h = h[:, first : first + b].to(self.device).contiguous()
            state = (h, c[:, first : first + b].to(self.device).contiguous()) if c is not None else h
        started_at = time.monotonic() - progress["elapsedMs"] / 1000
        session_start, session_iteration = time.monotonic(), progress["iteration"]
        loss_since_eval, steps_since_eval = 0.0, 0
        since_best = 0
        for point in progress["history"]:
            if point.get("valLoss") is not None:
                since_best = 0 if point["valLoss"] == progress["bestValLoss"] else since_best + 1
        stochastic = config["dropout"] > 0
        weight_drop = (config.get("weightDrop") or 0) > 0
        control = torch.zeros(3, dtype=torch.float64, device=self.device)  # stop code, elapsed ms, the end's reserve ms
        scale = W / (B * T)  # see the module's docstring: DDP's mean of W such losses is the global mean
        last_step = None
        patience = plan["patience"]
        log_file = plan.get("log")

        def elapsed_ms():
            return (time.monotonic() - started_at) * 1000

        pass_ms, fraction_seen = None, 0.0

        def reserve_ms(now_ms):
            """src/engine/trainer.ts reserveMs: the end's passes, each as long as the last validation pass
            or, before one, a third of training's time on as many characters."""
            if config["timeBudgetMs"] <= 0 or val is None or len(val) < 2:
                return 0.0
            per_pass = pass_ms
            if per_pass is None:
                trained = (progress["iteration"] - session_iteration) * B * T
                if trained == 0:
                    return 0.0
                per_pass = len(val) * (time.monotonic() - session_start) * 1000 / (3 * trained)
            return end_reserve_ms(config["timeBudgetMs"], 2 if self.average is not None else 1, per_pass)

        def end_choice_due():
            return self.rank == 0 and val is not None and len(val) >= 2 and self.average is not None and self.average.count > 0 \
                and "endChoice" not in progress

        def choose_at_end(score, mean_loss):
            """The run's end (src/engine/trainer.ts chooseAtEnd): the raw weights measured beside the
            tail's mean, both recorded, the lower kept."""
            raw = score()
            progress["endChoice"] = {"mean": mean_loss, "raw": raw, "chose": "raw" if raw < mean_loss else "mean"}
            return min(raw, mean_loss)

        def evaluate_and_save(force_save, state_all, end=False):
            nonlocal loss_since_eval, steps_since_eval, since_best, pass_ms
            train_loss = loss_since_eval / steps_since_eval if steps_since_eval > 0 else (progress["lastTrainLoss"] if progress["lastTrainLoss"] is not None else float("nan"))
            point = {"iteration": progress["iteration"], "trainLoss": train_loss}
            improved = False
            if self.rank == 0 and val is not None and len(val) >= 2:
                score = lambda: validation_loss(self.model, val, B, T, self.device)  # noqa: E731
                pass_started = time.monotonic()
                val_loss = self.average.with_mean(score) if self.average is not None else score()
                pass_ms = (time.monotonic() - pass_started) * 1000
                if end and end_choice_due():
                    val_loss = choose_at_end(score, val_loss)
                point["valLoss"] = val_loss
                progress["lastValLoss"] = val_loss
                improved = progress["bestValLoss"] is None or val_loss < progress["bestValLoss"]
                if improved:
                    progress["bestValLoss"] = val_loss
                since_best = 0 if improved else since_best + 1
                shown = f"{train_loss:.4f}" if math.isfinite(train_loss) else "n/a"
                self.log(f"rnn: iteration {progress['iteration']} (epoch {progress['epoch']}): train loss {shown}, "
                         f"val loss {val_loss:.4f}{' (best)' if improved else ''}"
                         + (f", {last_step['charsPerSecond']:,.0f} chars/s" if last_step else ""))
                if log_file:
                    with open(log_file, "a", encoding="utf-8") as f:
                        f.write(js_json({
                            "iteration": progress["iteration"], "epoch": progress["epoch"], "elapsedMs": round(elapsed_ms()),
                            "trainLoss": train_loss, "valLoss": val_loss, "best": improved,
                            "lr": last_step["learningRate"] if last_step else config["learningRate"],
                            "charsPerSecond": round(last_step["charsPerSecond"]) if last_step else None}) + "\n")
            if steps_since_eval > 0:
                progress["history"].append(point)
                progress["lastTrainLoss"] = train_loss
            loss_since_eval, steps_since_eval = 0.0, 0
            progress["elapsedMs"] = round(elapsed_ms())
            if self.rank == 0 and (force_save or config["saveEvery"] == 0):
                self.save_all(progress, state_all, improved)

        reason = ""
        while True:
            # Rank 0 decides whether to go on, and its clock sets the schedule's position for every rank.
            if self.rank == 0:
                code = 0
                now_ms = elapsed_ms()
                reserve = reserve_ms(now_ms)
                if config["maxIters"] > 0 and progress["iteration"] >= config["maxIters"]:
                    code = 1
                elif config["timeBudgetMs"] > 0 and now_ms + reserve >= config["timeBudgetMs"]:
                    code = 2
                elif INTERRUPTED:
                    code = 3
                elif patience and since_best >= patience:
                    code = 4
                control[0], control[1], control[2] = code, now_ms, reserve
            dist.broadcast(control, 0, group=self.group)
            if int(control[0].item()) != 0:
                reason = STOP_REASONS[int(control[0].item())]
                break
            now_ms = control[1].item()
            if progress["window"] == 0:
                state = self.model.zero_state(b, self.device)  # a new epoch starts from a zero state
            fraction_seen = fraction = max(fraction_seen, run_progress(config, progress["iteration"], now_ms, control[2].item()))
            rate = learning_rate_at(config, progress["iteration"], fraction)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
            if stochastic:
                # Masks depend on the seed, the iteration and the rank only: a resumed run draws what it would have.
                torch.manual_seed(((config["seed"] * 1000003 + progress["iteration"]) * 1009 + self.rank) % (2 ** 63))
            w = progress["window"]
            inputs, targets = ids[w * T : w * T + T], ids[w * T + 1 : w * T + T + 1]
            masks = self.hh_masks(progress["iteration"]) if weight_drop else None
            logits, state = self.ddp(inputs, detached(state), masks)
            loss_sum = nn.functional.cross_entropy(logits.reshape(T * b, -1), targets.reshape(T * b), reduction="sum")
            self.optimizer.zero_grad(set_to_none=True)
            (loss_sum * scale).backward()  # DDP averages the gradients over the ranks here
            if config["clipValue"] > 0:
                nn.utils.clip_grad_value_(self.params, config["clipValue"])
            if config["clipNorm"] > 0:
                grad_norm = nn.utils.clip_grad_norm_(self.params, config["clipNorm"]).item()
            else:
                grad_norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in self.params if p.grad is not None))
            self.optimizer.step()
            total = loss_sum.detach().reshape(1).to(torch.float64)
            dist.all_reduce(total, group=self.group)
            loss = total.item() / (B * T)
            if not math.isfinite(loss):
                raise RunError(f"training diverged at iteration {progress['iteration'] + 1} (loss {loss}); try a smaller --lr or --clip-norm",
                               everywhere=True)
            progress["iteration"] += 1
            progress.pop("endChoice", None)  # a run resumed past its end trains on: its weights are the mean again
            if self.average is not None:
                if in_average_tail(config["averageTail"], fraction) and progress["iteration"] % AVERAGE_STRIDE == 0:
                    self.average.add()
                elif self.average.count > 0 and not in_average_tail(config["averageTail"], fraction):
                    self.average.count = 0
                progress["averaged"] = self.average.count
            progress["window"] += 1
            if progress["window"] >= windows:
                progress["window"] = 0
                progress["epoch"] += 1
            loss_since_eval += loss
            steps_since_eval += 1
            seconds = max(1e-3, time.monotonic() - session_start)
            last_step = {"learningRate": rate, "gradNorm": grad_norm,
                         "charsPerSecond": (progress["iteration"] - session_iteration) * B * T / seconds}
            eval_due = progress["iteration"] % config["evalEvery"] == 0
            save_due = config["saveEvery"] > 0 and progress["iteration"] % config["saveEvery"] == 0
            if eval_due or save_due:
                state_all = self.gather_state(state, first, b)
                if eval_due:
                    evaluate_and_save(save_due, state_all)
                else:
                    progress["elapsedMs"] = round(elapsed_ms())
                    if self.rank == 0:
                        self.save_all(progress, state_all, False)
        state_all = self.gather_state(state, first, b)
        last = progress["history"][-1] if progress["history"] else None
        if reason != "interrupted" and (steps_since_eval > 0 or len(progress["history"]) == 0):
            evaluate_and_save(True, state_all, end=True)
        elif reason != "interrupted" and end_choice_due() and (last is None or last["iteration"] != progress["iteration"] or last.get("valLoss") is None):
            evaluate_and_save(True, state_all, end=True)  # resumed at its very end from an interrupt's save: measure both
        elif reason != "interrupted" and end_choice_due():
            # The last step's validation measured the mean: the raw weights beside it, saved again.
            mean_loss = last["valLoss"]
            chosen = choose_at_end(lambda: validation_loss(self.model, val, B, T, self.device), mean_loss)
            improved = False
            if chosen < mean_loss:
                progress["lastValLoss"] = last["valLoss"] = chosen
                improved = progress["bestValLoss"] is None or chosen < progress["bestValLoss"]
                if improved:
                    progress["bestValLoss"] = chosen
            progress["elapsedMs"] = round(elapsed_ms())
            self.save_all(progress, state_all, improved)
        else:
            progress["elapsedMs"] = round(elapsed_ms())
            if self.rank == 0:
                self.save_all(progress, state_all, False)
        seconds = max(1e-3, time.monotonic() - session_start)
        return {"reason": reason, "progress": progress, "backend": self.backend_name,
                "charsPerSecond": (progress["iteration"] - session_iteration) * B * T / seconds, "world": W}

    def save_all(self, progress, state_all, best):
        """The latest checkpoint, the best one when validation improved, and a snapshot with --snapshots."""
        paths = self.plan["paths"]
        self.save(paths["latest"], progress, state_all, True)
        # --overwrite: the replaced run's best checkpoint and snapshots go once this run's latest is
        # saved (not before: a first save that fails leaves the old run whole), as ours does.
        replaced = self.plan.get("replaced", [])
        if replaced:
            for file in replaced:
                if os.path.exists(file):
                    os.unlink(file)
            self.log(f"rnn: --overwrite: removed the replaced run's best checkpoint and snapshots ({len(replaced)} files)")
        self.plan["replaced"] = []
        if best:
            self.save(paths["best"], progress, state_all, True)
        if self.config.get("snapshots"):
            own = progress
            if progress.get("averaged"):  # raw weights: no mean, so none of its figures
                own = {key: value for key, value in progress.items() if key != "endChoice"}
                own.update(averaged=0, lastValLoss=None)
            snapshot = os.path.join(paths["snapshots"], f"iter-{progress['iteration']:07d}.safetensors")
            self.save(snapshot, own, state_all, False)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    torch.set_num_threads(int(plan.get("torchThreads", 1)))
    run = Run(plan, start_process_group())
    failed = False
    try:
        run.load()
        result = run.train()
    except RunError as err:
        result, failed = {"error": str(err)}, not err.everywhere
    if run.rank == 0:
        write_atomic(plan["result"], js_json(result).encode("utf-8"))
    finish(1 if failed else 0)


def finish(code=0):
    """Ends this rank without tearing torch down: torch 1.13's gloo process group can deadlock in its
    destructor (its worker thread frees a tensor and waits for the GIL the joining main thread
    holds), seen here about once in a dozen runs. Everything worth keeping is written by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
