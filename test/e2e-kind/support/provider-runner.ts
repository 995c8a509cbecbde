/**
 * Runs one Git provider stand-in (test/fakes/git-providers.ts) in a container of the kind network, for
 * test/e2e-kind/support/provider-host.ts: `node provider-runner.ts <github|gitlab|bitbucket> <host name> <port>`.
 * Prints one JSON line with what the tests need (apiUrl, repository, token), then a JSON line per request
 * the stand-in answered (method and path, never the auth header's value).
 */
import { type FakeProviderKind, startFakeProvider } from '../../fakes/git-providers.ts';

const [kind, advertise, port] = process.argv.slice(2) as [FakeProviderKind, string, string];
const fake = await startFakeProvider(kind, { listen: { host: '0.0.0.0', port: Number(port), advertise } });
process.stdout.write(
  `${JSON.stringify({ ready: true, apiUrl: fake.apiUrl, repository: fake.repository, token: fake.token })}\n`,
);
let seen = 0;
setInterval(() => {
  for (const r of fake.requests.slice(seen))
    process.stdout.write(`${JSON.stringify({ method: r.method, path: r.path })}\n`);
  seen = fake.requests.length;
}, 200);
