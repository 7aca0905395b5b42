#!/usr/bin/env bash
# Run here, on the dev machine: fill bench/gpu/pack/ (git-ignored) with what
# bench/gpu/device-check.sh needs on a device machine that has no network and no Node:
#   rnn.tar.xz  this machine's Node binary (it needs only libc and libstdc++), the runtime
#               node_modules pruned to what runs (gpu.js, webgpu's linux-x64 Dawn, commander,
#               chalk, ora and their dependencies; no dev tools, no headless-gl), dist/,
#               build/wasm, bin/, package.json and the training corpus
#   debs/       the Vulkan/EGL loader packages (amd64), unpacked there only if it has none
# Carry it with the device tool: carry ["bench/gpu/pack"] (all of it must stay under 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
PACK=bench/gpu/pack
say() { printf 'pack: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[ "$(uname -m)" = x86_64 ] || fail "this machine is $(uname -m); the device machine is x86-64, so its Node and Dawn binaries must be packed on x86-64"
[ -f dist/cli/main.js ] && [ -f build/wasm/kernels.wasm ] || fail "no build: run npm run build first"
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || fail "node_modules/webgpu lacks its linux-x64 binary: run npm ci"
[ -f corpora/tinyshakespeare.txt ] || fail "corpora/tinyshakespeare.txt is missing: npm run fetch-corpus"
NODE_BIN=$(readlink -f "$(command -v node)")
if ldd "$NODE_BIN" | grep -v -E 'linux-vdso|ld-linux|lib(c|m|dl|pthread|rt|stdc\+\+|gcc_s)\.so' | grep -q '=>'; then
  fail "$NODE_BIN links libraries beyond libc and libstdc++: $(ldd "$NODE_BIN" | tr '\n' ' ')"
fi

rm -rf "$PACK"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/rnn/node_modules" "$PACK/debs"
cp "$NODE_BIN" "$STAGE/rnn/node"
cp -r dist bin package.json "$STAGE/rnn/"
mkdir -p "$STAGE/rnn/build" "$STAGE/rnn/corpora" "$STAGE/rnn/bench/gpu"
cp -r build/wasm "$STAGE/rnn/build/"
cp corpora/tinyshakespeare.txt "$STAGE/rnn/corpora/"
cp bench/train-worker.js "$STAGE/rnn/bench/"
cp bench/gpu/check.js "$STAGE/rnn/bench/gpu/"

# Runtime dependencies: the closure of package.json's dependencies (never optional ones:
# headless-gl is native, built for X, and the check runs webgpu), found the way Node does.
mapfile -t DEPS < <(node -e '
  const fs = require("fs"), path = require("path");
  const root = process.cwd(), seen = new Set();
  const find = (name, from) => {
    for (let dir = from; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, "node_modules", name);
      if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
      if (dir === root || dir === path.dirname(dir)) throw new Error(`${name} not found from ${from}`);
    }
  };
  const walk = (dir) => {
    const rel = path.relative(root, dir);
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const dep of Object.keys(JSON.parse(fs.readFileSync(path.join(dir, "package.json"))).dependencies || {})) walk(find(dep, dir));
  };
  for (const dep of Object.keys(require(path.join(root, "package.json")).dependencies)) walk(find(dep, root));
  console.log([...seen].sort().join("\n"));')
[ "${#DEPS[@]}" -gt 0 ] || fail "found no runtime dependencies"
for dep in "${DEPS[@]}"; do
  # A nested one (ora/node_modules/…) came with its parent.
  [ -e "$STAGE/rnn/$dep" ] && continue
  mkdir -p "$STAGE/rnn/$(dirname "$dep")"
  cp -r "$dep" "$STAGE/rnn/$dep"
done
# Dawn for every other platform, gpu.js's browser bundles and headless-gl: nothing runs them.
find "$STAGE/rnn/node_modules/webgpu/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
rm -rf "$STAGE/rnn/node_modules/gpu.js/dist" "$STAGE/rnn/node_modules/gl"
say "compressing $(du -sh "$STAGE/rnn" | cut -f1) (xz, a minute or two)"
tar -C "$STAGE" -cf - rnn | xz -T2 -6 > "$PACK/rnn.tar.xz"

# The loaders (per the device tool's README): Vulkan for Dawn, GLVND/EGL that NVIDIA's ICD uses.
LISTS=$(mktemp -d)
APT_AMD64=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$LISTS")
mkdir -p "$LISTS/partial"
apt-get "${APT_AMD64[@]}" update -qq >/dev/null 2>&1 || fail "apt-get update for the loader packages failed"
(cd "$PACK/debs" && apt-get "${APT_AMD64[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) ||
  fail "apt-get download of the loader packages failed"
rm -rf "$LISTS"
size=$(du -sm "$PACK" | cut -f1)
[ "$size" -lt 60 ] || fail "$PACK is ${size} MiB; the device tool carries 64 MiB in all"
say "wrote $PACK: ${size} MiB ($(ls "$PACK" "$PACK/debs" | tr '\n' ' '))"
