// The backends the conformance suite and the gradient checks run, and the cases each skips.

import { Backend } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { createWasmBackend } from '../../src/kernels/wasm';
import { createGpujsBackend } from '../../src/kernels/gpujs';

export interface BackendEntry {
  name: string;
  create: () => Backend | Promise<Backend>;
  /** Relative tolerance per element for an O(1)-sized reduction; kernels scale it by √K. */
  tolerance: number;
}

export const BACKENDS: BackendEntry[] = [
  { name: 'reference-float32', create: () => new ReferenceBackend('float32'), tolerance: 2e-6 },
  // float32 storage and float32 sums (the reference sums in float64); exp/σ/tanh within 2 ulp.
  // Both kernel modules: SIMD128 alone, and relaxed SIMD (the GEMM's fused multiply-add), which
  // `auto` picks where the engine accepts it (Node 20 with V8's flag, switched on by the backend).
  { name: 'wasm-1thread', create: () => createWasmBackend({ threads: 1, simd: 'plain' }), tolerance: 2e-6 },
  { name: 'wasm-2threads', create: () => createWasmBackend({ threads: 2, simd: 'plain' }), tolerance: 2e-6 },
  { name: 'wasm-relaxed-1thread', create: () => createWasmBackend({ threads: 1, simd: 'relaxed' }), tolerance: 2e-6 },
  { name: 'wasm-relaxed-2threads', create: () => createWasmBackend({ threads: 2, simd: 'relaxed' }), tolerance: 2e-6 },
  // gpu.js cpu mode: the kernels run as float64 JavaScript and store float32 arrays.
  { name: 'gpujs-cpu', create: () => createGpujsBackend({ mode: 'cpu' }), tolerance: 2e-6 },
];

// CI runs jest under `xvfb-run -a` with RNN_TEST_HEADLESSGL=1. There, a headless-gl that
// cannot start makes create() throw, so every case of this entry fails; it is never skipped.
if (process.env.RNN_TEST_HEADLESSGL === '1') {
  BACKENDS.push({
    name: 'gpujs-headlessgl',
    create: () => createGpujsBackend({ mode: 'headlessgl' }),
    // float32 storage and float32 sums in the shader (the reference sums in float64). Under
    // Mesa llvmpipe, highp is IEEE float32 (23-bit mantissa) and every case passes at 3e-7;
    // a hardware GPU's approximate exp/log may need more.
    tolerance: 2e-6,
  });
}

// CI sets RNN_TEST_WEBGPU=1 after installing Mesa's lavapipe (.ci/run). There, a Dawn that
// finds no adapter makes create() throw with the reason, so every case fails; never skipped.
if (process.env.RNN_TEST_WEBGPU === '1') {
  BACKENDS.push({
    name: 'gpujs-webgpu',
    create: () => createGpujsBackend({ mode: 'webgpu' }),
    // float32 storage and float32 sums in WGSL compute shaders (the reference sums in float64).
    tolerance: 2e-6,
  });
}

/** `${backend}:${case}` → why it is skipped. Every entry is a known gap with a reason. */
export const SKIPS: Record<string, string> = {};
// Every backend runs every cell: nothing is skipped.

/** Backends whose model gradients are compared with the float64 reference's. */
export const GRADCHECK_BACKENDS: BackendEntry[] = BACKENDS;
