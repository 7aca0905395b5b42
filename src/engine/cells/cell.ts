// What the engine knows of a recurrent cell: its shape, its names and its initial biases.
//
// The fused step kernels live in each backend (src/kernels/<backend>/cells/); the model
// (src/engine/model.ts) runs any cell from this description. A new cell is a file here, one
// line in CELLS (index.ts), and one kernel file per backend.

import { CellName } from '../../kernels/backend';

export interface CellSpec {
  name: CellName;
  /** Human name for stderr and `rnn info`. */
  title: string;
  /** G: blocks of H in the projections (W_ih is [G·H, In], W_hh [G·H, H]). */
  gates: number;
  /** The PyTorch module whose state_dict names the weights: `${module}.weight_ih_l0`, … */
  module: 'lstm' | 'gru' | 'rnn';
  /** Carries c beside h (the LSTMs). */
  carriesCell: boolean;
  /**
   * Keeps W_hh·h + b_hh apart from the input projection (the GRU's r ⊙ (W_hn·h + b_hn)) rather
   * than adding it into the gates. Its kernel then also passes z ⊙ dh straight to h_{t-1}.
   */
  separateRecurrent: boolean;
  /** Diagonal peepholes: `${module}.weight_peep_l{k}` [3H] = (w_ci, w_cf, w_co). */
  peepholes: boolean;
  /** Initial (b_ih, b_hh), [G·H] each. */
  initialBiases(H: number): { ih: Float64Array; hh: Float64Array };
  /** --init identity applies (Le, Jaitly & Hinton 2015: the ReLU RNN with W_hh = I). */
  allowsIdentityInit: boolean;
}

/** Zero biases, as nn.GRU / nn.RNN would start from were they not uniform-initialised. */
export function zeroBiases(size: number): { ih: Float64Array; hh: Float64Array } {
  return { ih: new Float64Array(size), hh: new Float64Array(size) };
}
