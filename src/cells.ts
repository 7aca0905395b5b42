// Each recurrent cell, described once: its names, gate count, carried state, flags, init rules and
// parameter layout. Everything else reads this table: the engine (src/engine/model.ts) runs any
// cell from it, config and checkpoint validation take their names from it, the memory estimate
// sums the Workspace buffers it implies, the size rule scales by its gates, and each backend
// registers its fused kernels against its names (src/kernels/<backend>/cells/). What a new cell
// touches is in docs/cells-internals.md; test/cells.test.ts keeps that list true.
//
// Letters: B batch, H hidden, G gate blocks of H (4 LSTMs, 3 GRU, 1 vanilla RNN).

/** The recurrent cells the engine trains: one name per fused kernel pair. */
export type CellName = 'lstm' | 'peephole' | 'gru' | 'rnn-tanh' | 'rnn-relu';

export interface CellSpec {
  name: CellName;
  /** Human name for stderr and `rnn info`. */
  title: string;
  /** G: blocks of H in the projections (W_ih is [G·H, In], W_hh [G·H, H]). */
  gates: number;
  /** The PyTorch module whose state_dict names the weights: `${module}.weight_ih_l0`, … */
  module: 'lstm' | 'gru' | 'rnn';
  /** Carries c beside h (the LSTMs): the state is (h, c) rather than h, [B, H] each. */
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
function zeroBiases(size: number): { ih: Float64Array; hh: Float64Array } {
  return { ih: new Float64Array(size), hh: new Float64Array(size) };
}

/** Forget-gate bias 1 (Jozefowicz et al. 2015), in b_ih, so b_ih + b_hh starts at 1. */
function forgetBiasOne(H: number): { ih: Float64Array; hh: Float64Array } {
  const ih = new Float64Array(4 * H);
  ih.fill(1, H, 2 * H);
  return { ih, hh: new Float64Array(4 * H) };
}

/** The vanilla (Elman) RNN as nn.RNN: h = act(W_ih·x + b_ih + W_hh·h + b_hh), act tanh or ReLU. */
const vanilla = (name: 'rnn-tanh' | 'rnn-relu', title: string): CellSpec => ({
  name,
  title,
  gates: 1,
  module: 'rnn',
  carriesCell: false,
  separateRecurrent: false,
  peepholes: false,
  initialBiases: (H) => zeroBiases(H),
  allowsIdentityInit: true,
});

/** Every cell, in the order `rnn train --help` lists them. */
export const CELL_SPECS: Readonly<Record<CellName, CellSpec>> = {
  // The LSTM (Hochreiter & Schmidhuber 1997, with a forget gate): nn.LSTM's gates i, f, g, o.
  lstm: {
    name: 'lstm',
    title: 'LSTM',
    gates: 4,
    module: 'lstm',
    carriesCell: true,
    separateRecurrent: false,
    peepholes: false,
    initialBiases: forgetBiasOne,
    allowsIdentityInit: false,
  },
  // The peephole LSTM (Gers, Schraudolph & Schmidhuber 2002): nn.LSTM's weights plus diagonal
  // peepholes from c_{t-1} into i and f and from c_t into o, `lstm.weight_peep_l{k}` [3H].
  peephole: {
    name: 'peephole',
    title: 'peephole LSTM',
    gates: 4,
    module: 'lstm',
    carriesCell: true,
    separateRecurrent: false,
    peepholes: true,
    initialBiases: forgetBiasOne,
    allowsIdentityInit: false,
  },
  // The GRU (Cho et al. 2014) as nn.GRU: gates r, z, n; n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn)).
  gru: {
    name: 'gru',
    title: 'GRU',
    gates: 3,
    module: 'gru',
    carriesCell: false,
    separateRecurrent: true,
    peepholes: false,
    initialBiases: (H) => zeroBiases(3 * H),
    allowsIdentityInit: false,
  },
  'rnn-tanh': vanilla('rnn-tanh', 'tanh RNN'),
  'rnn-relu': vanilla('rnn-relu', 'ReLU RNN'),
};

export const CELLS: readonly CellSpec[] = Object.values(CELL_SPECS);

export const CELL_NAMES: readonly CellName[] = CELLS.map((c) => c.name);

/** Whether name is a cell this rnn knows: what config and checkpoint validation ask. */
export function isCellName(name: string): name is CellName {
  return Object.prototype.hasOwnProperty.call(CELL_SPECS, name);
}

export function cellSpec(name: CellName): CellSpec {
  if (!isCellName(name)) throw new Error(`unknown cell '${name}'`);
  return CELL_SPECS[name];
}

/** The carried state's names, [B, H] each: h, and c for the LSTMs. */
export function cellState(spec: CellSpec): readonly ('h' | 'c')[] {
  return spec.carriesCell ? ['h', 'c'] : ['h'];
}

/** One parameter tensor: its state_dict name and PyTorch shape (vectors are 1-D). */
export interface ParameterShape {
  name: string;
  shape: number[];
}

/**
 * Layer l's parameters, in state_dict order, for input size In: weight_ih [G·H, In], weight_hh
 * [G·H, H], bias_ih [G·H], bias_hh [G·H], and the peephole LSTM's weight_peep [3H].
 */
export function layerParameters(spec: CellSpec, layer: number, inputSize: number, H: number): ParameterShape[] {
  const m = spec.module, GH = spec.gates * H;
  const params = [
    { name: `${m}.weight_ih_l${layer}`, shape: [GH, inputSize] },
    { name: `${m}.weight_hh_l${layer}`, shape: [GH, H] },
    { name: `${m}.bias_ih_l${layer}`, shape: [GH] },
    { name: `${m}.bias_hh_l${layer}`, shape: [GH] },
  ];
  if (spec.peepholes) params.push({ name: `${m}.weight_peep_l${layer}`, shape: [3 * H] });
  return params;
}

/** A model's parameters by role, each list in state_dict order. */
export interface ModelParameters {
  embedding: ParameterShape;          // embedding.weight [V, E]
  layers: ParameterShape[][];         // layerParameters of each layer, l = 0..L-1
  decoderWeight: ParameterShape;      // decoder.weight [V, H]
  decoderBias: ParameterShape;        // decoder.bias [V]
}

/**
 * The whole model's parameters: nn.Embedding, the stacked cell (layer 0 reads E, the rest H) and
 * nn.Linear, with PyTorch's names and shapes, so checkpoints load in PyTorch.
 */
export function modelParameters(
  spec: CellSpec, m: { vocabSize: number; embeddingSize: number; hiddenSize: number; layers: number },
): ModelParameters {
  const { vocabSize: V, embeddingSize: E, hiddenSize: H } = m;
  return {
    embedding: { name: 'embedding.weight', shape: [V, E] },
    layers: Array.from({ length: m.layers }, (_, l) => layerParameters(spec, l, l === 0 ? E : H, H)),
    decoderWeight: { name: 'decoder.weight', shape: [V, H] },
    decoderBias: { name: 'decoder.bias', shape: [V] },
  };
}

/** Values in a model's parameters: what `rnn info` and the memory estimate count. */
export function parameterCount(spec: CellSpec, m: Parameters<typeof modelParameters>[1]): number {
  const p = modelParameters(spec, m);
  const size = (x: ParameterShape): number => x.shape.reduce((a, b) => a * b, 1);
  return [p.embedding, ...p.layers.flat(), p.decoderWeight, p.decoderBias].reduce((n, x) => n + size(x), 0);
}
