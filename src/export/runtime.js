// rnn exported sampler: a trained character-level RNN that samples text with no dependencies.
// Written by `rnn export`; the same module runs in a browser (the HTML page embeds it) and under
// Node (`node model.js --temp 0.8 --length 500`). Plain ES2017, no build step.
//
// Float rule, so the text is exactly `rnn sample --backend reference`'s for the same weights,
// seed and settings: weights and activations are stored in Float32Array (every store rounds to
// float32, as the reference backend's tensors do); each dot product sums in float64 in index
// order, then is stored; biases are added one at a time with a store after each; the cell math
// (σ, tanh, c, h) runs in float64 from the stored values, as the reference kernels do; the
// draw (softmax, top-k, top-p) runs in float64 exactly as src/sample/sampler.ts.
/* eslint-disable */
// The factory below is the whole module (a UMD wrapper: one scope for Node and the browser), so
// it runs long; each function inside it is short.
(function (root, factory) {
  var api = factory();
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.RnnModel = api;
  if (typeof require === 'function' && typeof module === 'object' && require.main === module) api.main(process.argv.slice(2));
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var MODEL = /*RNN_MODEL*/null;

  // ---- weights: F16 in base64, widened to float32 exactly -----------------------------------
  function f16Value(h) {
    var sign = h & 0x8000 ? -1 : 1, exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
    if (exp === 0) return sign * mant * Math.pow(2, -24);
    if (exp === 0x1f) return mant ? NaN : sign * Infinity;
    return sign * (1 + mant / 1024) * Math.pow(2, exp - 15);
  }

  var F16_TABLE = null; // every half's float32 value, made on first use

  function decodeTensor(t) {
    var bin = atob(t.data), count = t.shape.reduce(function (p, d) { return p * d; }, 1);
    var out = new Float32Array(count);
    if (t.dtype === 'F16') {
      var table = F16_TABLE;
      if (!table) {
        table = F16_TABLE = new Float32Array(65536);
        for (var h = 0; h < 65536; h++) table[h] = f16Value(h);
      }
      for (var i = 0; i < count; i++) out[i] = table[bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8)];
    } else {
      throw new Error('unknown dtype ' + t.dtype);
    }
    return out;
  }

  // ---- the seeded PRNG: xoshiro128** seeded by splitmix32, as src/engine/rng.ts ---------------
  function Rng(seed) {
    var s = new Uint32Array(4);
    var x = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
    for (var i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      var z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (s[0] === 0 && s[1] === 0 && s[2] === 0 && s[3] === 0) s[0] = 1;
    this.s = s;
  }
  function rotl(x, k) { return ((x << k) | (x >>> (32 - k))) >>> 0; }
  Rng.prototype.nextUint32 = function () {
    var s = this.s;
    var result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    var t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  Rng.prototype.uniform = function () { return this.nextUint32() / 4294967296; };

  // ---- the draw: softmax(logits / T), top-k, then top-p, as src/sample/sampler.ts --------------
  function drawFromLogits(logits, opts, rng, probs) {
    var V = logits.length, max = -Infinity, v, sum = 0;
    for (v = 0; v < V; v++) max = Math.max(max, logits[v]);
    for (v = 0; v < V; v++) { probs[v] = Math.exp((logits[v] - max) / opts.temperature); sum += probs[v]; }
    for (v = 0; v < V; v++) probs[v] /= sum;
    var order, keep = V, i;
    if ((opts.topK > 0 && opts.topK < V) || opts.topP < 1) {
      order = [];
      for (v = 0; v < V; v++) order.push(v);
      order.sort(function (a, b) { return probs[b] - probs[a] || a - b; });
      keep = opts.topK > 0 ? Math.min(opts.topK, V) : V;
      if (opts.topP < 1) {
        var mass = 0;
        for (i = 0; i < keep; i++) { mass += probs[order[i]]; if (mass >= opts.topP) { keep = i + 1; break; } }
      }
    }
    var total = 0;
    for (i = 0; i < keep; i++) total += probs[order ? order[i] : i];
    var r = rng.uniform() * total;
    for (i = 0; i < keep; i++) {
      r -= probs[order ? order[i] : i];
      if (r < 0) return order ? order[i] : i;
    }
    return order ? order[keep - 1] : V - 1;
  }

  function argmax(logits) {
    var best = 0;
    for (var v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    return best;
  }

  // ---- dense pieces, stored to float32 as the reference backend does ----------------------------
  // out[n] = Σ_k x[k] W[n, k] (W: [N, K] row-major); the sum in float64, k ascending.
  function matvec(W, x, out, K, accumulate) {
    for (var n = 0, N = out.length; n < N; n++) {
      var sum = 0, row = n * K;
      for (var k = 0; k < K; k++) sum += x[k] * W[row + k];
      out[n] = accumulate ? out[n] + sum : sum;
    }
  }
  function addBias(out, b) { for (var n = 0; n < out.length; n++) out[n] = out[n] + b[n]; }
  function sigmoid(x) { return 1 / (1 + Math.exp(-x)); }

  // ---- cells: one small function each; state holds Float32Arrays of H; x is the layer input --
  // PyTorch's layouts and gate orders (nn.LSTM i,f,g,o; nn.GRU r,z,n). pre: scratch [G·H].
  // One entry per cell of src/cells.ts, with its gates, state and module (test/cells.test.ts).
  var CELLS = {
    // nn.LSTM: c = f⊙c + i⊙g, h = o⊙tanh(c).
    lstm: { gates: 4, state: ['h', 'c'], step: function (p, x, st, pre, H) {
      matvec(p.wIh, x, pre, p.inputSize, false); addBias(pre, p.bIh); addBias(pre, p.bHh);
      matvec(p.wHh, st.h, pre, H, true);
      for (var j = 0; j < H; j++) {
        var i = sigmoid(pre[j]), f = sigmoid(pre[H + j]), g = Math.tanh(pre[2 * H + j]), o = sigmoid(pre[3 * H + j]);
        var c = f * st.c[j] + i * g;
        st.c[j] = c;
        st.h[j] = o * Math.tanh(c);
      }
    } },
    // LSTM with peepholes (w_ci, w_cf, w_co in weight_peep [3H]): i, f see c_{t-1}; o sees c_t.
    peephole: { gates: 4, state: ['h', 'c'], step: function (p, x, st, pre, H) {
      matvec(p.wIh, x, pre, p.inputSize, false); addBias(pre, p.bIh); addBias(pre, p.bHh);
      matvec(p.wHh, st.h, pre, H, true);
      var w = p.wPeep;
      for (var j = 0; j < H; j++) {
        var cPrev = st.c[j];
        var i = sigmoid(pre[j] + w[j] * cPrev), f = sigmoid(pre[H + j] + w[H + j] * cPrev), g = Math.tanh(pre[2 * H + j]);
        var c = f * cPrev + i * g;
        var o = sigmoid(pre[3 * H + j] + w[2 * H + j] * c);
        st.c[j] = c;
        st.h[j] = o * Math.tanh(c);
      }
    } },
    // nn.GRU: r, z from input and hidden together; n = tanh(x_n + r⊙(W_hn h + b_hn)); h = (1-z)⊙n + z⊙h.
    gru: { gates: 3, state: ['h'], step: function (p, x, st, pre, H) {
      var gh = p.scratch;
      matvec(p.wIh, x, pre, p.inputSize, false); addBias(pre, p.bIh);
      matvec(p.wHh, st.h, gh, H, false); addBias(gh, p.bHh);
      for (var j = 0; j < H; j++) {
        var r = sigmoid(pre[j] + gh[j]), z = sigmoid(pre[H + j] + gh[H + j]);
        var n = Math.tanh(pre[2 * H + j] + r * gh[2 * H + j]);
        st.h[j] = (1 - z) * n + z * st.h[j];
      }
    } },
    // nn.RNN: h = act(W_ih x + b_ih + W_hh h + b_hh).
    'rnn-tanh': { gates: 1, state: ['h'], step: function (p, x, st, pre, H) {
      matvec(p.wIh, x, pre, p.inputSize, false); addBias(pre, p.bIh); addBias(pre, p.bHh);
      matvec(p.wHh, st.h, pre, H, true);
      for (var j = 0; j < H; j++) st.h[j] = Math.tanh(pre[j]);
    } },
    'rnn-relu': { gates: 1, state: ['h'], step: function (p, x, st, pre, H) {
      matvec(p.wIh, x, pre, p.inputSize, false); addBias(pre, p.bIh); addBias(pre, p.bHh);
      matvec(p.wHh, st.h, pre, H, true);
      for (var j = 0; j < H; j++) st.h[j] = Math.max(0, pre[j]);
    } },
  };
  // The checkpoint's tensor prefix per cell (PyTorch's module names).
  var PREFIX = { lstm: 'lstm', peephole: 'lstm', gru: 'gru', 'rnn-tanh': 'rnn', 'rnn-relu': 'rnn' };

  // ---- the model: embedding → L cells → linear -------------------------------------------------
  function Model(spec) {
    var cfg = spec.config, cell = cfg.cell || 'lstm';
    if (!CELLS[cell]) throw new Error('this sampler has no cell "' + cell + '"');
    var t = {};
    Object.keys(spec.tensors).forEach(function (name) { t[name] = decodeTensor(spec.tensors[name]); });
    this.config = cfg;
    this.cell = CELLS[cell];
    this.chars = spec.vocab;
    this.ids = {};
    for (var i = 0; i < spec.vocab.length; i++) this.ids[spec.vocab[i]] = i;
    this.embedding = t['embedding.weight'];
    this.decoderWeight = t['decoder.weight'];
    this.decoderBias = t['decoder.bias'];
    this.layers = [];
    var H = cfg.hiddenSize, prefix = PREFIX[cell];
    for (var l = 0; l < cfg.layers; l++) {
      this.layers.push({
        inputSize: l === 0 ? cfg.embeddingSize : H,
        wIh: t[prefix + '.weight_ih_l' + l], wHh: t[prefix + '.weight_hh_l' + l],
        bIh: t[prefix + '.bias_ih_l' + l], bHh: t[prefix + '.bias_hh_l' + l],
        wPeep: t[prefix + '.weight_peep_l' + l],
        scratch: new Float32Array(this.cell.gates * H),
      });
    }
  }

  /** A stream of characters: feed() one id, then logits hold the next character's scores. */
  Model.prototype.stream = function () {
    var m = this, H = m.config.hiddenSize, E = m.config.embeddingSize;
    var states = m.layers.map(function () {
      var st = {};
      m.cell.state.forEach(function (k) { st[k] = new Float32Array(H); });
      return st;
    });
    var x = new Float32Array(E), pre = new Float32Array(m.cell.gates * H), logits = new Float32Array(m.chars.length);
    // Zoneout at evaluation: each unit keeps p of its previous value, h = h~ + p·(h_prev − h~),
    // with p stored in float32 as the engine's mask is.
    var zoneout = Math.fround(m.config.zoneout || 0);
    // An LSTM's c may have its own p (--zoneout-cell); without one it takes h's.
    var zoneoutCell = Math.fround(m.config.zoneoutCell === undefined ? zoneout : m.config.zoneoutCell);
    var zoning = zoneout > 0 || (m.cell.state.indexOf('c') >= 0 && zoneoutCell > 0);
    var previous = m.cell.state.map(function () { return new Float32Array(H); });
    return {
      logits: logits,
      feed: function (id) {
        x.set(m.embedding.subarray(id * E, (id + 1) * E));
        var input = x;
        for (var l = 0; l < m.layers.length; l++) {
          var st = states[l];
          if (zoning) m.cell.state.forEach(function (k, i) { previous[i].set(st[k]); });
          m.cell.step(m.layers[l], input, st, pre, H);
          if (zoning) {
            m.cell.state.forEach(function (k, i) {
              var now = st[k], prev = previous[i], p = k === 'c' ? zoneoutCell : zoneout;
              for (var j = 0; j < H; j++) now[j] = now[j] + p * (prev[j] - now[j]);
            });
          }
          input = st.h;
        }
        matvec(m.decoderWeight, input, logits, H, false);
        addBias(logits, m.decoderBias);
      },
    };
  };

  /**
   * A sampler with rnn sample's options: { seed, temperature, topK, topP, prime, greedy }.
   * next() returns the next character. Without a prime the model starts after a line break
   * (when the vocabulary has one), else from a random character, as the CLI does.
   */
  Model.prototype.sampler = function (opts) {
    var m = this, o = Object.assign({ temperature: 0.8, topK: 0, topP: 1, prime: '', greedy: false }, opts);
    var seed = o.seed === undefined || o.seed === null ? Math.floor(Math.random() * 4294967296) : o.seed;
    var rng = new Rng(seed), s = m.stream(), probs = new Float64Array(m.chars.length), last = null;
    Array.from(o.prime).forEach(function (ch) {
      if (!(ch in m.ids)) throw new Error('the prime has ' + JSON.stringify(ch) + ', which the model never saw');
      if (last !== null) s.feed(last);
      last = m.ids[ch];
    });
    return {
      seed: seed,
      next: function () {
        if (last === null) last = '\n' in m.ids ? m.ids['\n'] : Math.floor(rng.uniform() * m.chars.length);
        s.feed(last);
        last = o.greedy ? argmax(s.logits) : drawFromLogits(s.logits, o, rng, probs);
        return m.chars[last];
      },
    };
  };

  /** prime + length characters (stops after the first of opts.stop, a list of strings). */
  Model.prototype.generate = function (length, opts) {
    var sampler = this.sampler(opts), text = (opts && opts.prime) || '', stops = (opts && opts.stop) || [];
    for (var i = 0; i < length; i++) {
      text += sampler.next();
      if (stops.some(function (st) { return text.endsWith(st); })) break;
    }
    return text;
  };

  var loaded = null;
  function load() { return loaded || (loaded = new Model(MODEL)); }

  /** `node model.js [--temp t] [--length n] [--seed s] [--prime text] [--top-k k] [--top-p p] [--greedy]` */
  function main(argv) {
    var opts = { temperature: 0.8, topK: 0, topP: 1, prime: '', greedy: false }, length = 1000;
    var flags = { '--temp': 'temperature', '-t': 'temperature', '--top-k': 'topK', '--top-p': 'topP', '--seed': 'seed', '--length': 'length', '-n': 'length', '--prime': 'prime', '-p': 'prime' };
    for (var i = 0; i < argv.length; i++) {
      var a = argv[i];
      if (a === '--greedy') { opts.greedy = true; continue; }
      if (a === '--help' || a === '-h') {
        process.stdout.write('usage: node model.js [--temp t] [--length n] [--seed s] [--prime text] [--top-k k] [--top-p p] [--greedy]\n');
        return;
      }
      var key = flags[a];
      if (!key || i + 1 >= argv.length) { process.stderr.write('model.js: unknown option ' + a + ' (see --help)\n'); process.exitCode = 2; return; }
      var value = argv[++i];
      if (key === 'prime') { opts.prime = value; continue; }
      var n = Number(value);
      if (value.trim() === '' || !isFinite(n) || (key === 'temperature' && n <= 0) || (key !== 'temperature' && key !== 'topP' && (n < 0 || n % 1 !== 0))) {
        process.stderr.write('model.js: ' + a + ' ' + JSON.stringify(value) + ' is not a valid value\n'); process.exitCode = 2; return;
      }
      if (key === 'length') length = n; else opts[key] = n;
    }
    var model = load(), sampler;
    try { sampler = model.sampler(opts); } catch (err) { process.stderr.write('model.js: ' + err.message + '\n'); process.exitCode = 2; return; }
    var out = opts.prime;
    for (var j = 0; j < length; j++) {
      out += sampler.next();
      if (out.length >= 4096) { process.stdout.write(out); out = ''; }
    }
    // Exactly the text into a pipe; a line break after it on a terminal, as `rnn sample`.
    process.stdout.write(out + (process.stdout.isTTY ? '\n' : ''));
  }

  // cells and prefixes are what test/cells.test.ts checks against src/cells.ts, cell by cell.
  return { load: load, Model: Model, Rng: Rng, drawFromLogits: drawFromLogits, main: main, model: MODEL, cells: CELLS, prefixes: PREFIX };
});
