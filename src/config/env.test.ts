import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { DEFAULT_CONFIG_PATH, loadEnv } from './env.ts';

describe('loadEnv', () => {
  it('fills the defaults', () => {
    expect(loadEnv({})).toEqual({
      SD_BOOTSTRAP_CONFIG: DEFAULT_CONFIG_PATH,
      LOG_LEVEL: 'info',
      LOG_FORMAT: undefined,
      SD_BOOTSTRAP_TIMEOUT_MS: 900_000,
      POD_NAMESPACE: undefined,
    });
  });

  it.each([
    {
      name: 'config path',
      raw: { SD_BOOTSTRAP_CONFIG: '/tmp/c.yaml' },
      expected: { SD_BOOTSTRAP_CONFIG: '/tmp/c.yaml' },
    },
    {
      name: 'log level and format',
      raw: { LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' },
      expected: { LOG_LEVEL: 'debug', LOG_FORMAT: 'pretty' },
    },
    {
      name: 'auto',
      raw: { LOG_FORMAT: 'auto' },
      expected: { LOG_FORMAT: 'auto' },
    },
    {
      name: 'timeout as a duration',
      raw: { SD_BOOTSTRAP_TIMEOUT: '1h30m' },
      expected: { SD_BOOTSTRAP_TIMEOUT_MS: 5_400_000 },
    },
    {
      name: 'timeout in seconds',
      raw: { SD_BOOTSTRAP_TIMEOUT: '90' },
      expected: { SD_BOOTSTRAP_TIMEOUT_MS: 90_000 },
    },
    {
      name: 'pod namespace',
      raw: { POD_NAMESPACE: 'seldon-system' },
      expected: { POD_NAMESPACE: 'seldon-system' },
    },
    {
      name: 'an empty variable counts as unset',
      raw: { LOG_FORMAT: '', LOG_LEVEL: ' ' },
      expected: { LOG_FORMAT: undefined, LOG_LEVEL: 'info' },
    },
    {
      name: 'other variables are ignored',
      raw: { HOME: '/root', NODE_ENV: 'production' },
      expected: { LOG_LEVEL: 'info' },
    },
  ])('$name', ({ raw, expected }) => {
    expect(loadEnv(raw)).toMatchObject(expected);
  });

  // Each row sets one variable, `path`, to `value`: the problem names that variable.
  it.each([
    {
      name: 'unknown log level',
      path: 'LOG_LEVEL',
      value: 'verbose',
      message: 'must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")',
    },
    { name: 'unknown log format', path: 'LOG_FORMAT', value: 'xml', message: 'must be one of json, pretty' },
    {
      name: 'bad timeout',
      path: 'SD_BOOTSTRAP_TIMEOUT',
      value: 'soon',
      message: 'must be a duration like "10m"',
    },
    { name: 'bad namespace', path: 'POD_NAMESPACE', value: 'Seldon', message: 'must be a DNS-1123 label' },
  ])('refuses $name with a ConfigError instead of exiting', ({ path, value, message }) => {
    let err: unknown;
    try {
      loadEnv({ [path]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([{ path, message: expect.stringContaining(message) }]);
  });

  it('reports every bad variable at once', () => {
    expect(() => loadEnv({ LOG_LEVEL: 'loud', SD_BOOTSTRAP_TIMEOUT: '-1' })).toThrow(
      /2 problems[\s\S]*LOG_LEVEL: [\s\S]*SD_BOOTSTRAP_TIMEOUT: /,
    );
  });
});
