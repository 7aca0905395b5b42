// rnn export: the exported sampler (Node module and HTML page in headless Chromium) writes exactly
// the CLI's text on the reference backend, for the F16 weights both run.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rnn, tempWorkspace, TINY } from '../cli/helpers';

/** Debian's chromium; CI installs it (.ci/apt-packages.txt), so there a missing one fails. */
const CHROMIUM = ['chromium', 'chromium-browser'].find((bin) => !spawnSync(bin, ['--version'], { stdio: 'ignore' }).error);
const browserTest = CHROMIUM || process.env.CI === 'true' ? it : it.skip;

function chromium(url: string, extra: string[]): string {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-chromium-'));
  const run = spawnSync(CHROMIUM ?? 'chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...extra, url,
  ], { encoding: 'utf8', timeout: 60000, maxBuffer: 64 << 20 });
  fs.rmSync(profile, { recursive: true, force: true });
  if (run.error) throw run.error;
  return run.stdout;
}

/** The text of <pre id="output"> once the page says it is done. */
function outputOf(dom: string): string | null {
  const match = /<pre id="output" data-state="done">([\s\S]*?)<\/pre>/.exec(dom);
  if (!match) return null;
  const entities: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&nbsp;': '\u00a0', '&amp;': '&' };
  return match[1].replace(/&(lt|gt|quot|nbsp|amp);/g, (e) => entities[e]);
}

describe('rnn export', () => {
  const { dir, corpus } = tempWorkspace();
  const ckptDir = path.join(dir, 'ck');
  const f16 = path.join(dir, 'model.f16.safetensors');
  const js = path.join(dir, 'model.js');
  const html = path.join(dir, 'model.html');

  beforeAll(() => {
    // Two layers, so the exported stack is checked too.
    const tiny = TINY.map((v, i) => (TINY[i - 1] === '--layers' ? '2' : v));
    expect(rnn(['train', corpus, ...tiny, '--max-iters', '30', '--checkpoint-dir', ckptDir]).code).toBe(0);
    const toF16 = rnn(['export', '--checkpoint-dir', ckptDir, '--format', 'safetensors', '--out', f16]);
    expect(toF16.code).toBe(0);
    expect(toF16.stderr).toMatch(/as F16 \(largest change \d/);
    for (const [format, out] of [['js', js], ['html', html]]) {
      const run = rnn(['export', '--checkpoint', f16, '--format', format, '--out', out]);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/as F16 \(exact\)/); // F16 in, F16 out: the same weights
    }
  });

  const cli = (args: string[]): string => {
    const run = rnn(['sample', '--checkpoint', f16, '--backend', 'reference', '-q', ...args]);
    expect(run.code).toBe(0);
    return run.stdout;
  };

  it('the F16 checkpoint holds weights only, in F16, and rnn sample reads it', () => {
    const header = fs.readFileSync(f16);
    const json = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString());
    const dtypes = new Set(Object.entries(json).filter(([k]) => k !== '__metadata__').map(([, v]) => (v as { dtype: string }).dtype));
    expect([...dtypes]).toEqual(['F16']);
    expect(Object.keys(json).some((k) => k.startsWith('optimizer.'))).toBe(false);
    expect([...cli(['--length', '20', '--seed', '1'])].length).toBe(20);
  });

  it.each([
    ['seed 1', ['--seed', '1', '--length', '300']],
    ['seed 2, a prime', ['--seed', '2', '--length', '300', '--prime', 'ROMEO:']],
    ['seed 3, --temp 1.3 --top-k 5', ['--seed', '3', '--length', '300', '--temp', '1.3', '--top-k', '5']],
    ['seed 4, --top-p 0.9', ['--seed', '4', '--length', '300', '--top-p', '0.9']],
    ['--greedy', ['--greedy', '--length', '120', '--prime', 'NURSE:']],
  ])('node model.js writes exactly the CLI\'s text (%s)', (_name, args) => {
    const run = spawnSync(process.execPath, [js, ...args], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(cli(args));
  });

  it('the module has no dependencies: it loads from a bare folder and exposes load()', () => {
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-bare-'));
    fs.copyFileSync(js, path.join(bare, 'model.js'));
    const run = spawnSync(process.execPath, ['-e', "const m = require('./model.js'); process.stdout.write(m.load().generate(50, { seed: 5 }))"], { cwd: bare, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(cli(['--seed', '5', '--length', '50']));
  });

  it('the HTML page embeds the same module and loads nothing from outside', () => {
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toContain(fs.readFileSync(js, 'utf8'));
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    expect(page).toMatch(/Content-Security-Policy" content="default-src 'none'/);
  });

  browserTest('headless Chromium: Generate streams the CLI\'s exact text into the page', () => {
    for (const [seed, extra] of [['6', '&prime=JULIET%3A'], ['7', '&topk=4&temp=1.1']]) {
      const url = `file://${html}?seed=${seed}&length=200${extra}&autorun=1`;
      const dom = chromium(url, ['--virtual-time-budget=30000', '--dump-dom']);
      const args = ['--seed', seed, '--length', '200'];
      if (extra.includes('prime')) args.push('--prime', 'JULIET:');
      if (extra.includes('topk')) args.push('--top-k', '4', '--temp', '1.1');
      expect(outputOf(dom)).toBe(cli(args));
    }
  });
});

// Every cell (and zoneout, whose evaluation-time expectation the sampler applies): the exported
// module writes the CLI's text on the reference backend, from the same F16 weights.
describe.each([
  ['peephole', []], ['gru', []], ['rnn-tanh', []], ['rnn-relu', ['--init', 'identity']], ['lstm', ['--zoneout', '0.3']],
  ['gru', ['--zoneout', '0.2']], ['peephole', ['--zoneout', '0.05', '--zoneout-cell', '0.6']],
])('rnn export of a %s model %j', (cell, extra) => {
  const { dir, corpus } = tempWorkspace();
  it('node model.js writes exactly the CLI\'s text', () => {
    const ckptDir = path.join(dir, 'ck');
    const tiny = TINY.map((v, i) => (TINY[i - 1] === '--layers' ? '2' : v));
    expect(rnn(['train', corpus, ...tiny, '--cell', cell, ...extra, '--max-iters', '20', '--checkpoint-dir', ckptDir]).code).toBe(0);
    const f16 = path.join(dir, 'model.f16.safetensors'), js = path.join(dir, 'model.js');
    expect(rnn(['export', '--checkpoint-dir', ckptDir, '--format', 'safetensors', '--out', f16]).code).toBe(0);
    expect(rnn(['export', '--checkpoint', f16, '--format', 'js', '--out', js]).code).toBe(0);
    for (const seed of ['1', '2']) {
      const args = ['--seed', seed, '--length', '200', '--prime', 'The '];
      const cli = rnn(['sample', '--checkpoint', f16, '--backend', 'reference', '-q', ...args]);
      expect(cli.code).toBe(0);
      const exported = spawnSync(process.execPath, [js, ...args], { encoding: 'utf8' });
      expect(exported.status).toBe(0);
      expect(exported.stdout).toBe(cli.stdout);
    }
  });
});
