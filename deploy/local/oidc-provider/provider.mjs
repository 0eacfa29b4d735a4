// A local OpenID Connect provider that stands in for ESIA («Госуслуги») in development and tests.
// One confidential client from the environment, ESIA-like scopes, demo accounts from
// accounts.json, and plain HTML forms that a test with an HTTP client can fill in.
// Development only: sessions live in memory and the demo passwords are in the repository.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Provider from 'oidc-provider';

const env = process.env;
const required = (name) => env[name] || fail(`${name} must be set (see README.md)`);
const port = Number(env.PORT || 8190);
const host = env.HOST || '127.0.0.1';
const issuer = env.OIDC_ISSUER || `http://${host}:${port}`;
const clientId = required('OIDC_CLIENT_ID');
const clientSecret = required('OIDC_CLIENT_SECRET');
const redirectUris = required('OIDC_REDIRECT_URIS').split(',').map((uri) => uri.trim()).filter(Boolean);

const accounts = JSON.parse(readFileSync(env.OIDC_ACCOUNTS_FILE || new URL('./accounts.json', import.meta.url), 'utf8'));
const byLogin = new Map(accounts.map((account) => [account.login.toLowerCase(), account]));
const bySub = new Map(accounts.map((account) => [account.sub, account]));

function fail(message) {
  console.error(`provider.mjs: ${message}`);
  process.exit(2);
}

// The signing key is written once into the state dir, so relying parties that cached the JWKS
// keep verifying tokens across restarts; without a state dir each start gets a fresh key.
function signingKey() {
  const file = env.OIDC_STATE_DIR && join(env.OIDC_STATE_DIR, 'signing-key.jwk.json');
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  if (file) {
    mkdirSync(env.OIDC_STATE_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  return jwk;
}

const escape = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>Госуслуги <small>(локальный стенд)</small></h1>
${body}
</body></html>`;
}

function loginPage(uid, params, error = '', login = '') {
  return page('Вход — Госуслуги', `<p>Вход для «${escape(params.client_id)}»</p>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Почта <input name="login" value="${escape(login || params.login_hint)}" autofocus></label>
<label>Пароль <input name="password" type="password"></label>
<button type="submit">Войти</button>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Отмена</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  // ESIA's scope names; `trusted` is ESIA's flag for an account confirmed in person.
  claims: {
    openid: ['sub'],
    fullname: ['family_name', 'given_name', 'middle_name', 'trusted'],
    email: ['email', 'email_verified'],
    mobile: ['phone_number', 'phone_number_verified'],
    birthdate: ['birthdate'],
  },
  scopes: ['openid', 'offline_access', 'fullname', 'email', 'mobile', 'birthdate'],
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic'],
  // Put the granted claims into the ID token too, so a relying party needs no userinfo call.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(ctx, sub) {
    const account = bySub.get(sub);
    return account && { accountId: sub, claims: async () => ({ sub, ...account.claims }) };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Ошибка', `<p class="error" role="alert">${escape(out.error)}: ${escape(out.error_description)}</p>`);
  },
});

// The interaction pages: a login form, and a consent step granted without asking, since the
// only client is our own service and tests have no use for ESIA's consent screen.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, action] = match;
  ctx.set('cache-control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res).catch((error) => error);
  const problem = details instanceof Error ? (details.error_description ?? details.message)
    : details.uid !== uid ? 'this is not the sign-in in progress; start again' : '';
  if (problem) {
    ctx.status = 400;
    ctx.body = page('Ошибка', `<p class="error" role="alert">${escape(problem)}</p>`);
    return undefined;
  }
  const { prompt, params } = details;
  const finish = async (result) => {
    ctx.status = 303;
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
  };
  if (ctx.method === 'GET' && !action && prompt.name === 'login') {
    ctx.body = loginPage(uid, params);
  } else if (ctx.method === 'GET' && !action && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    await finish({ consent: { grantId: await grant.save() } });
  } else if (ctx.method === 'POST' && action === 'login') {
    const form = await readForm(ctx.req);
    const login = (form.get('login') || '').trim();
    const account = byLogin.get(login.toLowerCase());
    if (!account || account.password !== form.get('password')) {
      console.log(`login failed for ${JSON.stringify(login)}`);
      ctx.body = loginPage(uid, params, 'Неверный логин или пароль', login);
      return undefined;
    }
    console.log(`login ${account.login} (sub ${account.sub}) for ${params.client_id}`);
    await finish({ login: { accountId: account.sub } });
  } else if (ctx.method === 'POST' && action === 'abort') {
    await finish({ error: 'access_denied', error_description: 'the user cancelled the login' });
  } else {
    ctx.throw(405);
  }
  return undefined;
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
  provider.on(event, (ctx, error) => console.error(`${event}: ${error.message} ${error.error_description ?? ''}`));
}

// With a pipe on stdin, the parent's exit (even a SIGKILL) closes it: exit too, never linger.
if (env.OIDC_EXIT_ON_STDIN_CLOSE === '1') {
  process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
}

provider.listen(port, host, () => {
  console.log(`ESIA stand-in ${issuer} listening on ${host}:${port}; client ${clientId}, ${accounts.length} accounts`);
});
