#!/usr/bin/env bash
# Run on a device machine (the `device` tool; no network, no Node), after bench/gpu/pack.sh here:
#   device run: command "bash bench/gpu/device-check.sh", carry ["bench/gpu/pack"], timeout_s 540
# Unpacks the pack, checks nvidia-smi and the Vulkan adapter Dawn finds, runs the webgpu
# conformance cases (bench/gpu/check.js over dist/), then measures, each beside wasm on the
# same machine: training chars/s at 2x512, B=128, T=64; sampling chars/s at 2x512; GEMM
# GFLOP/s at [B·T, 512]·[512, 2048]. Prints one JSON line on stdout; progress and the step that
# failed, plainly, on stderr. Exit 0 only if every step passed. Within 8 minutes by design:
# every step has its own time limit (CHECK_SECONDS scales the timed parts, default 20).
set -uo pipefail
cd "$(dirname "$0")/../.."
PACK=bench/gpu/pack
WORK=${TMPDIR:-/tmp}/rnn-device-check
SECONDS_PER_RUN=${CHECK_SECONDS:-20}
OUT_DIR=$WORK/results
FAILED=()
say() { printf 'device-check: %s\n' "$*" >&2; }
failed() { FAILED+=("$1"); say "FAILED at $1: $2"; }

# ---- 1. unpack -----------------------------------------------------------------------------
[ -f "$PACK/rnn.tar.xz" ] || { say "FAILED at unpack: $PACK/rnn.tar.xz is missing (run bench/gpu/pack.sh here, carry $PACK)"; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK" "$OUT_DIR"
if command -v xz >/dev/null; then
  xz -dc "$PACK/rnn.tar.xz" | tar -C "$WORK" -xf - || { say "FAILED at unpack: tar/xz"; exit 1; }
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$PACK/rnn.tar.xz" "$WORK" ||
    { say "FAILED at unpack: python3 tarfile"; exit 1; }
fi
RNN=$WORK/rnn
NODE=$RNN/node
"$NODE" --version >/dev/null 2>&1 || { say "FAILED at unpack: the packed Node does not run here: $("$NODE" --version 2>&1 | head -1)"; exit 1; }
say "unpacked to $RNN (node $("$NODE" --version))"

# ---- 2. loaders and the NVIDIA driver --------------------------------------------------------
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  # The device tool's recipe: these loader packages unpack into / without harm there.
  for f in "$PACK"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  say "installed the Vulkan/GLVND loaders from $PACK/debs"
fi
GPU_NAME=""
if command -v nvidia-smi >/dev/null && GPU_NAME=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1) && [ -n "$GPU_NAME" ]; then
  say "nvidia-smi: $GPU_NAME"
else
  GPU_NAME=""
  failed nvidia-smi "no NVIDIA GPU here ($(command -v nvidia-smi >/dev/null && echo 'nvidia-smi found no GPU' || echo 'no nvidia-smi')); the GPU steps are skipped, the CPU figures still run"
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -n "$GPU_NAME" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; break; fi
done
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] &&
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK}

# Runs one step under a time limit; its stdout (one JSON object) lands in $OUT_DIR/NAME.json.
run_step() {
  local name=$1 limit=$2; shift 2
  say "$name ..."
  if (cd "$RNN" && timeout "$limit" "$@") >"$OUT_DIR/$name.json" 2>"$OUT_DIR/$name.err"; then
    return 0
  fi
  local rc=$? why
  why=$(grep -v 'artificially reduced' "$OUT_DIR/$name.err" | tail -1)
  [ "$rc" -eq 124 ] && why="over its ${limit}s limit"
  failed "$name" "${why:-exit $rc}"
  rm -f "$OUT_DIR/$name.json"
  return 1
}

# ---- 3. the adapter and conformance (GPU only) -------------------------------------------------
if [ -n "$GPU_NAME" ]; then
  run_step adapter 60 "$NODE" -e '
    require("./dist/kernels/gpujs/probe").probeWebGpu().then((p) => {
      process.stdout.write(JSON.stringify(p) + "\n");
      if (!p.works) { process.stderr.write("Dawn found no adapter: " + p.reason + "\n"); process.exitCode = 1; }
      else if (p.software) { process.stderr.write("Dawn found only a software adapter: " + p.renderer + "\n"); process.exitCode = 1; }
    });'
  if [ -f "$OUT_DIR/adapter.json" ]; then
    run_step conformance 120 "$NODE" bench/gpu/check.js conformance --backend gpujs --gpu-mode webgpu
  fi
fi
GPU_OK=0
[ -f "$OUT_DIR/conformance.json" ] && GPU_OK=1

# ---- 4. figures: webgpu (when the GPU passed) and wasm, same shapes, same machine --------------
TRAIN=(bench/train-worker.js --layers 2 --hidden 512 --batch 128 --seq-len 64 --warmup 1 --seconds "$SECONDS_PER_RUN")
run_step checkpoint 60 "$NODE" bench/gpu/check.js checkpoint "$WORK/bench-2x512.safetensors"
if [ "$GPU_OK" = 1 ]; then
  run_step train_webgpu $((SECONDS_PER_RUN * 3 + 60)) "$NODE" "${TRAIN[@]}" --backend gpujs --gpu-mode webgpu
  [ -f "$OUT_DIR/checkpoint.json" ] && run_step sample_webgpu 90 "$NODE" bench/gpu/check.js sample "$WORK/bench-2x512.safetensors" --backend gpujs --gpu-mode webgpu --length 2000
  run_step gemm_webgpu 60 "$NODE" bench/gpu/check.js gemm --backend gpujs --gpu-mode webgpu
fi
run_step train_wasm $((SECONDS_PER_RUN * 3 + 60)) "$NODE" "${TRAIN[@]}" --backend wasm --threads 0
[ -f "$OUT_DIR/checkpoint.json" ] && run_step sample_wasm 90 "$NODE" bench/gpu/check.js sample "$WORK/bench-2x512.safetensors" --backend wasm --length 2000
run_step gemm_wasm 90 "$NODE" bench/gpu/check.js gemm --backend wasm

# ---- 5. one JSON line ------------------------------------------------------------------------
FAILED_LIST=$(printf '%s\n' "${FAILED[@]+"${FAILED[@]}"}")
GPU_NAME="$GPU_NAME" FAILED_LIST="$FAILED_LIST" "$NODE" -e '
  const fs = require("fs"), path = require("path"), dir = process.argv[1];
  const read = (name) => { try { return JSON.parse(fs.readFileSync(path.join(dir, name + ".json"), "utf8")); } catch { return null; } };
  const adapter = read("adapter"), conf = read("conformance");
  const tw = read("train_webgpu"), tm = read("train_wasm"), sw = read("sample_webgpu"), sm = read("sample_wasm");
  const gw = read("gemm_webgpu"), gm = read("gemm_wasm");
  const r = (x) => (x == null ? null : Math.round(x * 10) / 10);
  const ratio = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : null);
  process.stdout.write(JSON.stringify({
    gpu: process.env.GPU_NAME || null,
    adapter: adapter ? adapter.renderer : null,
    conformance: conf ? `${conf.passed}/${conf.cases}` : null,
    train_2x512_B128_T64_chars_per_s: { gpujs_webgpu: r(tw && tw.train_chars_per_s), wasm: r(tm && tm.train_chars_per_s),
      wasm_device: tm ? tm.description : null, webgpu_over_wasm: ratio(tw && tw.train_chars_per_s, tm && tm.train_chars_per_s) },
    sample_2x512_chars_per_s: { gpujs_webgpu: r(sw && sw.sample_chars_per_s), wasm: r(sm && sm.sample_chars_per_s) },
    gemm_8192x512x2048_gflops: { gpujs_webgpu: r(gw && gw.gflops), wasm: r(gm && gm.gflops) },
    failed_steps: process.env.FAILED_LIST.split("\n").filter(Boolean),
  }) + "\n");' "$OUT_DIR"

if [ "${#FAILED[@]}" -gt 0 ]; then
  say "done, with failures: ${FAILED[*]}"
  exit 1
fi
say "done: every step passed"
