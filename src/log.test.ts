import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, progressLine } from './log.ts';
import { clearRegisteredSecrets, registerSecret } from './report/redact.ts';

function capture(isTTY = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

describe('logger', () => {
  afterEach(() => clearRegisteredSecrets());

  it('writes JSON when not on a terminal, with secrets redacted', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream });
    registerSecret('tok3n-value');
    log.info({ secret: { password: 'p4ss', name: 'git-creds' } }, 'using tok3n-value for %s', 'repo');
    const line = JSON.parse(out.text()) as Record<string, unknown>;
    expect(line.msg).toBe('using [redacted] for repo');
    expect(line.secret).toBe('[redacted]');
    expect(out.text()).not.toContain('p4ss');
  });

  it('redacts nested secret keys and error messages', () => {
    const out = capture();
    const log = createLogger({ stream: out.stream, format: 'json' });
    registerSecret('hunter22');
    log.error({ err: new Error('auth failed for hunter22'), repo: { url: 'u', token: 't0k' } }, 'failed');
    expect(out.text()).not.toContain('hunter22');
    expect(out.text()).not.toContain('t0k');
  });

  it('pretty on a terminal', () => {
    const out = capture(true);
    createLogger({ stream: out.stream }).info(progressLine(true, 'install-argocd', 3210, '54 unchanged'));
    expect(out.text()).toContain('✔ install-argocd (3.2s): 54 unchanged');
    expect(() => JSON.parse(out.text())).toThrow();
  });

  it('auto: pretty on a terminal, JSON elsewhere', () => {
    const tty = capture(true);
    createLogger({ stream: tty.stream, format: 'auto' }).info('hello');
    expect(() => JSON.parse(tty.text())).toThrow();
    expect(tty.text()).toContain('hello');
    const pipe = capture(false);
    createLogger({ stream: pipe.stream, format: 'auto' }).info('hello');
    expect((JSON.parse(pipe.text()) as { msg: string }).msg).toBe('hello');
  });

  it('pretty without a terminal (the chart Job): plain lines, no colour codes, no JSON', () => {
    const out = capture(false);
    const log = createLogger({ stream: out.stream, format: 'pretty' });
    log.error(progressLine(false, 'check-repository', 1200, 'ssh: connect to host git.example.com port 22'));
    expect(out.text()).toMatch(/ERROR: ✗ check-repository \(1\.2s\): ssh: connect/);
    expect(out.text()).not.toContain('\u001b[');
  });
});
