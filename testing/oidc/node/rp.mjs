// An independent relying party for Clinch: openid-client 6 runs every flow
// the Go suite runs with go-oidc. testing/oidc drives it over stdio: this
// script prints one JSON line per step and, where a person would use the
// browser, waits for the Go test to send back the URL the browser landed on.
//
// env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, LOGOUT_URI
import * as client from 'openid-client';
import * as readline from 'node:readline';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const readLine = async () => {
  const { value, done } = await lines.next();
  if (done) throw new Error('stdin closed');
  return value.trim();
};

async function main() {
  // Plain-http loopback issuer: allowed for this test only.
  const config = await client.discovery(
    new URL(env('ISSUER')), env('CLIENT_ID'), undefined,
    client.ClientSecretPost(env('CLIENT_SECRET')),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  out({ step: 'discovery', issuer: meta.issuer, pkce: meta.supportsPKCE() });

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authURL = client.buildAuthorizationUrl(config, {
    redirect_uri: env('REDIRECT_URI'),
    scope: 'openid profile email groups offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state, nonce,
  });
  out({ step: 'authorize', url: authURL.href });
  const callback = new URL(await readLine());

  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  out({ step: 'code', claims, has_refresh: !!tokens.refresh_token, scope: tokens.scope });

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  out({ step: 'userinfo', info });

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  out({ step: 'refresh', rotated: refreshed.refresh_token !== tokens.refresh_token, sub: refreshed.claims()?.sub });

  // The old refresh token again: refused, and the family is revoked.
  let replay = 'accepted';
  try { await client.refreshTokenGrant(config, tokens.refresh_token); } catch (e) { replay = e.error ?? e.code ?? String(e); }
  let after = 'accepted';
  try { await client.refreshTokenGrant(config, refreshed.refresh_token); } catch (e) { after = e.error ?? e.code ?? String(e); }
  out({ step: 'replay', replay, after });

  // A second sign-in (consent remembered: straight back with a code) for
  // revocation.
  const v2 = client.randomPKCECodeVerifier();
  const s2 = client.randomState();
  const url2 = client.buildAuthorizationUrl(config, {
    redirect_uri: env('REDIRECT_URI'), scope: 'openid offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(v2), code_challenge_method: 'S256', state: s2,
  });
  out({ step: 'authorize2', url: url2.href });
  const t2 = await client.authorizationCodeGrant(config, new URL(await readLine()), {
    pkceCodeVerifier: v2, expectedState: s2, idTokenExpected: true,
  });
  await client.tokenRevocation(config, t2.refresh_token);
  const intro = await client.tokenIntrospection(config, t2.access_token);
  let revoked = 'accepted';
  try { await client.refreshTokenGrant(config, t2.refresh_token); } catch (e) { revoked = e.error ?? e.code ?? String(e); }
  out({ step: 'revoke', refresh: revoked, access_active: intro.active });

  const cc = await client.clientCredentialsGrant(config);
  const ccIntro = await client.tokenIntrospection(config, cc.access_token);
  out({ step: 'client_credentials', has_id_token: !!cc.id_token, active: ccIntro.active, client_id: ccIntro.client_id });

  const end = client.buildEndSessionUrl(config, {
    id_token_hint: t2.id_token, post_logout_redirect_uri: env('LOGOUT_URI'), state: 'bye',
  });
  out({ step: 'end_session', url: end.href });
}

main().then(() => process.exit(0), (e) => {
  out({ step: 'error', error: String(e), cause: e.cause ? String(e.cause) : undefined, code: e.code, oauth: e.error });
  process.exit(1);
});
