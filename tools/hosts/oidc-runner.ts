/**
 * A real OpenID Provider — the OpenID-certified `oidc-provider` package — over HTTPS, for the kind tier's
 * SSO test (tools/hosts/oidc-host.ts starts it in a container of the cluster's network). Its configuration
 * comes as JSON in `OIDC_CONFIG`: the issuer, the TLS key and certificate (files signed by a CA made at run
 * time), one confidential client (Argo CD's), and static users with passwords and groups.
 *
 * The login and consent pages are this file's own minimal interaction (oidc-provider's devInteractions
 * accept any password): `GET /interaction/<uid>` is a form whose `data-prompt` says which, `POST
 * /interaction/<uid>/login` checks the username and password, `POST /interaction/<uid>/confirm` grants the
 * requested scopes and claims. Prints `{"ready":true}`, then one JSON line per login attempt (the user and
 * whether it succeeded, never a password).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import Provider, { type Configuration } from 'oidc-provider';

interface User {
  username: string;
  password: string;
  email: string;
  groups: string[];
}

interface RunnerConfig {
  issuer: string;
  port: number;
  keyFile: string;
  certFile: string;
  client: { id: string; secret: string; redirectUri: string };
  users: User[];
}

const cfg = JSON.parse(process.env.OIDC_CONFIG ?? '{}') as RunnerConfig;
const users = new Map(cfg.users.map((u) => [u.username, u]));
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const configuration: Configuration = {
  clients: [
    {
      client_id: cfg.client.id,
      client_secret: cfg.client.secret,
      redirect_uris: [cfg.client.redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  async findAccount(_ctx, id) {
    const user = users.get(id);
    if (!user) return undefined;
    return {
      accountId: id,
      claims: async () => ({
        sub: id,
        name: user.username,
        email: user.email,
        email_verified: true,
        groups: user.groups,
      }),
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The scopes' claims in the ID token too (Argo CD reads `groups` from it), not only from userinfo.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  jwks: { keys: [{ ...signing, kid: 'sd-e2e', use: 'sig', alg: 'RS256' }] as never },
};

const provider = new Provider(cfg.issuer, configuration);
provider.on('server_error', (_ctx, err) => say({ serverError: String(err) }));
const oidc = provider.callback();

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function page(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
}

async function interaction(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === 'GET') {
    const action = prompt.name === 'login' ? 'login' : 'confirm';
    page(
      res,
      200,
      `<form data-prompt="${prompt.name}" method="post" action="/interaction/${uid}/${action}">` +
        (prompt.name === 'login'
          ? '<input name="username"><input name="password" type="password">'
          : `<p>${String(params.client_id)} asks for ${String(params.scope)}</p>`) +
        '<button>Continue</button></form>',
    );
    return;
  }
  if (path.endsWith('/login') && prompt.name === 'login') {
    const f = await form(req);
    const user = users.get(f.get('username') ?? '');
    const ok = !!user && user.password === f.get('password');
    say({ login: f.get('username'), ok });
    if (!ok) {
      page(res, 401, '<p>wrong username or password</p>');
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.username } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  if (path.endsWith('/confirm') && prompt.name === 'consent') {
    const accountId = details.session?.accountId;
    const clientId = String(params.client_id);
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: accountId!, clientId });
    const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope) grant!.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant!.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant!.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  page(res, 400, `<p>unexpected ${req.method} ${path} at prompt ${prompt.name}</p>`);
}

const server = createServer(
  { key: readFileSync(cfg.keyFile), cert: readFileSync(cfg.certFile) },
  (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith('/interaction/')) {
      interaction(req, res, path).catch((err: unknown) => {
        say({ interactionError: String(err) });
        if (!res.headersSent) page(res, 500, '<p>interaction failed</p>');
      });
      return;
    }
    oidc(req, res);
  },
);
server.listen(cfg.port, '0.0.0.0', () => say({ ready: true, issuer: cfg.issuer }));
