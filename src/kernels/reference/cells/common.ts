// What the reference cells share: storage access and the logistic function.

import { FloatArray, Tensor } from '../../backend';

/** Reads a tensor's storage (the reference backend's own tensors only). */
export type DataOf = (t: Tensor) => FloatArray;

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
