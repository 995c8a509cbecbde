/**
 * The reliability suite's own tools, without a cluster: the encodings its secret scan looks for, and the
 * document it writes (figures of other suites read from their JSON files, "not run" when absent).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodedForms,
  FIGURE_SOURCES,
  readFigures,
  reliabilityDoc,
  startGate,
  type Totals,
  watchDescendants,
} from '../e2e/support/faults.ts';

const secret = 'rely-admin-pw-x7/+Q-S3CRET';
const found = (text: string, users: string[] = []) =>
  encodedForms(secret, users).filter(([, t]) => text.includes(t));

describe('encodedForms', () => {
  it.each([0, 1, 2, 5])('finds the value base64-encoded inside a larger text (%i bytes before it)', (n) => {
    const data = Buffer.concat([Buffer.alloc(n, 0x41), Buffer.from(secret), Buffer.from(' tail')]);
    for (const enc of ['base64', 'base64url'] as const) {
      expect(found(data.toString(enc)).length, enc).toBeGreaterThan(0);
      expect(found(data.toString(enc).replace(/=+$/, '')).length, `${enc}, unpadded`).toBeGreaterThan(0);
    }
  });

  it('finds it padded and unpadded alone, URL-encoded, hex in either case', () => {
    const b64 = Buffer.from(secret).toString('base64');
    for (const text of [
      b64,
      b64.replace(/=+$/, ''),
      encodeURIComponent(secret),
      `q=${new URLSearchParams({ v: secret }).toString().slice(2)}`,
      Buffer.from(secret).toString('hex'),
      Buffer.from(secret).toString('hex').toUpperCase(),
    ])
      expect(found(`x ${text} y`).length, text).toBeGreaterThan(0);
  });

  it('finds a basic-auth pair (user:password, base64) in an Authorization header', () => {
    const header = `Authorization: Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`;
    expect(found(header, ['admin']).map(([form]) => form)).toContain('base64 of admin:…');
  });

  it('finds nothing in text without the value', () => {
    expect(found(`rely-admin-pw-other ${Buffer.from('rely-admin-pw-other').toString('base64')}`)).toEqual([]);
  });
});

const totals: Totals = {
  faults: 6,
  faultsSurvived: 4,
  faultsRepaired: 2,
  retries: 3,
  crashes: 10,
  badInputWrites: 0,
  secretsFound: 0,
  secretValues: 13,
  secretForms: 'raw, base64',
  streams: 100,
  processes: 40,
  secretsScanned: 'everything',
};

describe('reliabilityDoc', () => {
  const rows = [
    { item: 'crash', case: 'a', injected: 'x', expected: 'y', outcome: 'z', passed: true },
    {
      item: 'API fault',
      case: 'b',
      injected: 'x',
      expected: 'y',
      outcome: 'z',
      passed: true,
      verdict: 'repaired' as const,
    },
  ];

  it('says "not run" for every figure source without a complete file', () => {
    const doc = reliabilityDoc(rows, totals, 'cmd', readFigures(mkdtempSync(join(tmpdir(), 'fig-'))));
    for (const src of FIGURE_SOURCES) {
      expect(doc).toContain(`${src.title}: **not run**`);
      for (const label of src.figures) expect(doc).toContain(`${label}: not run`);
    }
    expect(doc).toContain('cases tried per class: crash **1**, API fault **1**');
    expect(doc).toContain('| pass: failed, repaired by the next run |');
  });

  it('shows the figures of a complete file, a figure off its required value as not met', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fig-'));
    writeFileSync(
      join(dir, 'rights.json'),
      JSON.stringify({
        source: 'test/e2e/rights.test.ts',
        complete: true,
        figures: [
          { label: 'identities that can grant rights, schedule on', value: 0, must: 0 },
          { label: 'identities that can grant rights, schedule off', value: 1, must: 0 },
        ],
      }),
    );
    writeFileSync(join(dir, 'lease.json'), JSON.stringify({ source: 'x', complete: false, figures: [] }));
    const doc = reliabilityDoc(rows, totals, 'cmd', readFigures(dir));
    expect(doc).toContain('identities that can grant rights, schedule on: **0**\n');
    expect(doc).toContain('schedule off: **1** — **not met** (must be 0)');
    expect(doc).toMatch(/Lost Lease: \*\*not run\*\*/);
  });
});

describe('watchDescendants', () => {
  it("reads the command line and environment of a child's child while it runs", async () => {
    const child = spawn('sh', ['-c', 'sleep 0.4; true'], {
      env: { ...process.env, RELY_MARK: 'seen-in-environ' },
      stdio: 'ignore',
    });
    const watch = watchDescendants(child.pid!);
    await new Promise((resolve) => child.on('close', resolve));
    const seen = watch.stop();
    const sleep = seen.find((p) => p.cmdline.startsWith('sleep\0'));
    expect(sleep?.cmdline.split('\0')).toContain('0.4');
    expect(sleep?.environ).toContain('RELY_MARK=seen-in-environ');
  });
});

describe('startGate', () => {
  it('relays both ways, holds answers, and once frozen nothing more reaches the client', async () => {
    // An upstream that answers each chunk with "ok:<chunk>" and says when it has answered.
    const answeredUpstream: string[] = [];
    let onAnswer = () => {};
    const upstream = createServer((s) =>
      s.on('data', (d) => {
        s.write(`ok:${d}`);
        answeredUpstream.push(d.toString());
        onAnswer();
      }),
    );
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'gate-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({ clusters: [{ cluster: { server: `https://127.0.0.1:${port}` } }] }),
    );
    // Held long enough that the freeze below always comes first.
    const gate = await startGate(kubeconfig, 500);
    const through = JSON.parse(
      readFileSync(gate.kubeconfigThrough(kubeconfig, join(dir, 'through')), 'utf8'),
    );
    expect(through.clusters[0].cluster.server).toBe(`https://${gate.listen}`);
    const [host, p] = gate.listen.split(':');
    const client = connect(Number(p), host!);
    const got: string[] = [];
    client.on('data', (d) => got.push(d.toString()));
    client.write('one');
    await new Promise((r) => client.once('data', r));
    expect(got).toEqual(['ok:one']);
    // The upstream has answered "two"; the gate holds that answer, and is frozen before it passes on.
    await new Promise<void>((r) => {
      onAnswer = r;
      client.write('two');
    });
    gate.freeze();
    client.write('three');
    await new Promise((r) => setTimeout(r, 700));
    expect(answeredUpstream).toEqual(['one', 'two']);
    expect(got).toEqual(['ok:one']);
    gate.reset();
    gate.close();
    upstream.close();
  });
});
