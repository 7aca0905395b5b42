// The backends the conformance suite and the gradient checks run, and the cases each skips.

import { Backend } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { createWasmBackend } from '../../src/kernels/wasm';

export interface BackendEntry {
  name: string;
  create: () => Backend | Promise<Backend>;
  /** Relative tolerance per element for an O(1)-sized reduction; kernels scale it by √K. */
  tolerance: number;
}

export const BACKENDS: BackendEntry[] = [
  { name: 'reference-float32', create: () => new ReferenceBackend('float32'), tolerance: 2e-6 },
  // float32 storage and float32 sums (the reference sums in float64); exp/σ/tanh within 2 ulp.
  { name: 'wasm-1thread', create: () => createWasmBackend({ threads: 1 }), tolerance: 2e-6 },
  { name: 'wasm-2threads', create: () => createWasmBackend({ threads: 2 }), tolerance: 2e-6 },
];

/** `${backend}:${case}` → why it is skipped. Every entry is a known gap with a reason. */
export const SKIPS: Record<string, string> = {};

/** Backends whose model gradients are compared with the float64 reference's. */
export const GRADCHECK_BACKENDS: BackendEntry[] = BACKENDS;
