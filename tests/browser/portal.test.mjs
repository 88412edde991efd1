// End-to-end tests of the portal in headless Debian Chromium (playwright-core,
// executablePath /usr/bin/chromium: no browser is ever downloaded).
// Starts `kruispunt serve --demo` on a free port with a fresh store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.KRUISPUNT_BIN || join(here, '../../target/debug/kruispunt');
const shots = process.env.KRUISPUNT_SCREENSHOTS === 'docs'
  ? join(here, '../../docs/screenshots') : join(here, 'artifacts');
mkdirSync(shots, { recursive: true });
const PASSWORD = 'kruispunt-demo-2026';

let server, browser, base, idp, env = {};

// A small OpenID Connect provider for the sign-in test: discovery, JWKS,
// an authorization endpoint that signs in `employer@demo.kruispunt.be` at
// once, and a token endpoint that checks the client secret and PKCE and
// returns an RS256 ID token.
const OIDC_CLIENT = { id: 'kruispunt-portal', secret: 'browser-suite-secret' };
function startIdp() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'suite-1', alg: 'RS256', use: 'sig' };
  const grants = new Map();
  const b64 = (b) => Buffer.from(b).toString('base64url');
  const sign = (claims) => {
    const input = `${b64(JSON.stringify({ alg: 'RS256', kid: 'suite-1', typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
  };
  const srv = createServer((req, res) => {
    const url = new URL(req.url, idp.url);
    const json = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, { issuer: idp.url, authorization_endpoint: `${idp.url}/authorize`, token_endpoint: `${idp.url}/token`,
        jwks_uri: `${idp.url}/jwks`, token_endpoint_auth_methods_supported: ['client_secret_basic'] });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      const code = randomBytes(16).toString('hex');
      grants.set(code, { nonce: q.get('nonce'), challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') });
      res.writeHead(302, { location: `${q.get('redirect_uri')}?code=${code}&state=${encodeURIComponent(q.get('state'))}` });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const f = new URLSearchParams(body);
        const auth = `Basic ${Buffer.from(`${OIDC_CLIENT.id}:${OIDC_CLIENT.secret}`).toString('base64')}`;
        const g = grants.get(f.get('code'));
        grants.delete(f.get('code'));
        const pkce = g && createHash('sha256').update(f.get('code_verifier') || '').digest('base64url') === g.challenge;
        if (req.headers.authorization !== auth || !g || !pkce || f.get('redirect_uri') !== g.redirect) {
          return json(400, { error: 'invalid_grant' });
        }
        const now = Math.floor(Date.now() / 1000);
        json(200, { token_type: 'Bearer', access_token: 'x', id_token: sign({ iss: idp.url, aud: OIDC_CLIENT.id,
          sub: 'demo-employer', email: 'employer@demo.kruispunt.be', email_verified: true, nonce: g.nonce, iat: now, exp: now + 300 }) });
      });
      return;
    }
    json(404, { error: 'not_found' });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    idp = { server: srv, url: `http://127.0.0.1:${srv.address().port}` };
    resolve();
  }));
}

function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'kp-browser-'));
  return new Promise((resolve, reject) => {
    server = spawn(bin, ['serve', '--demo', '--listen', '127.0.0.1:0'], {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: 'warn', KRUISPUNT_OIDC_ISSUER: idp.url, KRUISPUNT_OIDC_CLIENT_ID: OIDC_CLIENT.id,
        KRUISPUNT_OIDC_CLIENT_SECRET: OIDC_CLIENT.secret, KRUISPUNT_OIDC_LABEL: 'Demo IdP' },
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + out)), 120_000);
    server.stdout.on('data', (d) => {
      out += d.toString();
      for (const m of out.matchAll(/^export (\w+)=(\S+)/gm)) env[m[1]] = m[2];
      const e = out.match(/export EMPLOYER=\S+\s+# employer (\d+)/);
      if (e) env.EMPLOYER_ID = e[1];
      const l = out.match(/listening on (http:\/\/[\d.:]+)/);
      if (l) { clearTimeout(timer); base = l[1]; resolve(); }
    });
    server.stderr.on('data', (d) => { out += d.toString(); });
    server.on('exit', (c) => reject(new Error(`server exited ${c}:\n${out}`)));
  });
}

async function api(method, path, token, body) {
  const res = await fetch(base + path, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function newPage(lang = 'fr-BE') {
  // bypassCSP only so that axe-core can be injected; the pages need no script.
  const ctx = await browser.newContext({ locale: lang, bypassCSP: true, viewport: { width: 1280, height: 900 } });
  return ctx.newPage();
}

async function login(page, who) {
  await page.goto(base + '/login');
  await page.fill('input[name=email]', `${who}@demo.kruispunt.be`);
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/login"] button[type=submit]')]);
}

async function axe(page) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const r = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

before(async () => {
  await startIdp();
  await startServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  if (idp) idp.server.close();
});

test('the four languages render, with <html lang>', async () => {
  const page = await newPage();
  const expected = { fr: 'Se connecter', nl: 'Aanmelden', de: 'Anmelden', en: 'Sign in' };
  for (const [lang, text] of Object.entries(expected)) {
    await page.goto(`${base}/?lang=${lang}`);
    assert.equal(await page.getAttribute('html', 'lang'), lang);
    assert.ok((await page.textContent('body')).includes(text), `${lang}: ${text}`);
    await shot(page, `home-${lang}`);
  }
  // Remembered in a cookie, then Accept-Language for a new visitor.
  await page.goto(`${base}/faq`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  const nl = await newPage('nl-BE');
  await nl.goto(`${base}/faq`);
  assert.equal(await nl.getAttribute('html', 'lang'), 'nl');
});

test('public pages: register search, statistics, FAQ search across languages', async () => {
  const page = await newPage();
  await page.goto(`${base}/authorizations?q=CPAS-LIEGE`);
  assert.ok((await page.textContent('table')).includes('CPAS-LIEGE'));
  await shot(page, 'authorizations');
  await page.goto(`${base}/statistics`);
  assert.equal(await page.locator('svg.chart').count(), 2);
  await shot(page, 'statistics');
  // A Dutch word finds the question while reading the French page.
  await page.goto(`${base}/faq?lang=fr&q=studentencontingent`);
  assert.ok((await page.textContent('main')).includes('étudiant'));
  await page.goto(`${base}/faq`);
  await shot(page, 'faq');
});

test('an employer declares a Dimona IN through the form and finds the period in the personnel file', async () => {
  assert.ok(env.SSIN && env.EMPLOYER_ID, 'demo output names a citizen and an employer');
  const page = await newPage();
  await login(page, 'employer');
  assert.ok(page.url().endsWith('/employer'));
  await shot(page, 'employer');
  await page.click('a[href="/employer/dimona/new"] >> nth=0');
  // Inline validation first: a wrong SSIN is named next to its field.
  await page.fill('#f-ssin', '12345678901');
  await page.fill('#f-startDate', '2027-01-04');
  await page.click('form[action="/employer/dimona/new"] button[type=submit]');
  assert.ok(await page.locator('#f-ssin-error').isVisible());
  await shot(page, 'dimona-error');
  await page.fill('#f-ssin', env.SSIN);
  await page.selectOption('#f-workerType', 'OTH');
  await page.selectOption('#f-jointCommission', 'XXX');
  await page.fill('#f-startDate', '2027-01-04');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/employer/dimona/new"] button[type=submit]')]);
  assert.match(page.url(), /\/employer\/dimona\/\d+$/);
  const period = (await page.textContent('#period-id')).trim();
  assert.match(period, /^\d{12}$/);
  await shot(page, 'dimona-status');
  await page.goto(`${base}/employer/personnel-file`);
  assert.ok((await page.textContent('#periods')).includes(period));
  await shot(page, 'personnel-file');
  const csv = await page.request.get(`${base}/employer/personnel-file?format=csv`);
  assert.ok((await csv.text()).includes(period));
  assert.deepEqual(await axe(page), []);
});

// A Dimona XML file (Dimona_20231.xsd) with one DimonaIn.
function dimonaFile(employer, inss, start, end) {
  const ending = end ? `<EndingDate>${end}</EndingDate>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<Dimona xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="Dimona_20231.xsd">
  <Form>
    <Identification>DIMONA</Identification>
    <FormCreationDate>2026-11-29</FormCreationDate>
    <FormCreationHour>10:00:00.000</FormCreationHour>
    <AttestationStatus>0</AttestationStatus>
    <TypeForm>SU</TypeForm>
    <DimonaIn>
      <StartingDate>${start}</StartingDate>
      ${ending}
      <EmployerId><NOSSRegistrationNbr>${employer}</NOSSRegistrationNbr></EmployerId>
      <NaturalPerson><INSS>${inss}</INSS></NaturalPerson>
      <DimonaFeatures><JointCommissionNbr>XXX</JointCommissionNbr><WorkerType>OTH</WorkerType></DimonaFeatures>
    </DimonaIn>
  </Form>
</Dimona>
`;
}

test('an employer sends a Dimona file, then reads the acknowledgement and the result of each form', async () => {
  const page = await newPage();
  await login(page, 'employer');
  await page.goto(`${base}/employer/batch`);
  // A valid file (a period that ends before the one declared through the form).
  const valid = dimonaFile(env.EMPLOYER_ID, env.SSIN, '2026-12-07', '2026-12-11');
  await page.setInputFiles('#f-file', { name: 'FI.DIMONA.browser.1.xml', mimeType: 'text/xml', buffer: Buffer.from(valid) });
  await Promise.all([page.waitForNavigation(), page.click('form[action="/employer/batch"] button[type=submit]')]);
  assert.match(page.url(), /\/employer\/batch\/files\/FI\.DIMONA\.browser\.1\.xml$/);
  for (let i = 0; i < 20 && !(await page.locator('#notification').count()); i++) await page.reload();
  const row = page.locator('#notification #form-1');
  assert.ok(await row.locator('.tag-result-A').isVisible(), await row.textContent());
  assert.match(await row.textContent(), /\d{12}/);
  assert.deepEqual(await axe(page), []);
  await shot(page, 'batch-notification');
  const xml = await page.request.get(`${base}/employer/batch/files/FI.DIMONA.browser.1.xml/notification.xml`);
  assert.ok((await xml.text()).includes('<NOTIFICATION'));
  // An invalid one: refused at reception, each error with its line and column.
  await page.goto(`${base}/employer/batch`);
  const invalid = dimonaFile(env.EMPLOYER_ID, env.SSIN, '2026-13-01');
  await page.setInputFiles('#f-file', { name: 'FI.DIMONA.browser.2.xml', mimeType: 'text/xml', buffer: Buffer.from(invalid) });
  await Promise.all([page.waitForNavigation(), page.click('form[action="/employer/batch"] button[type=submit]')]);
  const errors = await page.textContent('#acrf-errors');
  assert.ok(errors.includes('00910-003'), errors);
  assert.ok(await page.locator('#files').textContent().then((t) => t.includes('FI.DIMONA.browser.1.xml')));
  assert.ok(!(await page.locator('#files').textContent()).includes('FI.DIMONA.browser.2.xml'), 'nothing kept');
  assert.deepEqual(await axe(page), []);
  await shot(page, 'batch-refused');
});

test('a social secretariat declares for the employer that mandated it', async () => {
  const page = await newPage('en-GB');
  await login(page, 'provider');
  assert.ok(page.url().endsWith('/employer'));
  const clients = await page.textContent('#clients');
  assert.ok(clients.includes(env.EMPLOYER_ID), clients);
  assert.deepEqual(await axe(page), []);
  await shot(page, 'provider');
  await Promise.all([page.waitForNavigation(), page.click(`#clients a[href="/employer/dimona/new?employer=${env.EMPLOYER_ID}"]`)]);
  assert.equal(await page.inputValue('#f-employer'), env.EMPLOYER_ID);
  await page.fill('#f-ssin', env.SSIN);
  await page.fill('#f-startDate', '2026-12-14');
  await page.fill('#f-endDate', '2026-12-18');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/employer/dimona/new"] button[type=submit]')]);
  const period = (await page.textContent('#period-id')).trim();
  await page.goto(`${base}/employer/personnel-file?employer=${env.EMPLOYER_ID}`);
  assert.ok((await page.textContent('#periods')).includes(period));
  assert.deepEqual(await axe(page), []);
});

test('an employer signs in through an OpenID Connect provider', async () => {
  const page = await newPage('en-GB');
  await page.goto(`${base}/login?next=%2Femployer%2Fmailbox`);
  await Promise.all([page.waitForURL(/\/employer\/mailbox$/), page.click('#f-oidc')]);
  assert.ok((await page.textContent('.account')).includes(env.EMPLOYER_ID));
});

test('a citizen sees the institution that consulted them', async () => {
  // CPAS Liège registers the person and asks the National Register, through the hub.
  const reg = await api('POST', '/hub/v1/references', env.CPAS, { ssin: env.SSIN, capacity: 2, startDate: '2026-01-01' });
  assert.ok([200, 201].includes(reg.status), JSON.stringify(reg.body));
  const msg = await api('POST', '/hub/v1/messages', env.CPAS, { service: 'identification', ssin: env.SSIN, purpose: '2' });
  assert.equal(msg.status, 200, JSON.stringify(msg.body));
  const page = await newPage();
  await login(page, 'me');
  assert.ok(page.url().endsWith('/citizen'));
  await shot(page, 'citizen');
  await page.goto(`${base}/citizen/access-log`);
  assert.ok((await page.textContent('#access-log')).includes('CPAS-LIEGE'));
  // A correction request, routed to the National Register.
  await page.check('#topic-identification');
  await page.fill('#f-message', 'My street name is misspelt.');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/citizen/corrections"] button[type=submit]')]);
  assert.ok(page.url().includes('sent=1'));
  await shot(page, 'access-log');
  assert.deepEqual(await axe(page), []);
});

test('a citizen cannot open employer pages', async () => {
  const page = await newPage();
  await login(page, 'me');
  for (const path of ['/employer', '/employer/dimona/new', '/employer/personnel-file', '/institution', '/operator']) {
    const res = await page.goto(base + path);
    assert.equal(res.status(), 403, path);
  }
});

test('institution and operator pages', async () => {
  const page = await newPage();
  await login(page, 'cpas');
  assert.ok(page.url().endsWith('/institution'));
  assert.ok((await page.textContent('#references')).length > 0);
  await shot(page, 'institution');
  assert.deepEqual(await axe(page), []);
  const op = await newPage();
  await login(op, 'operator');
  await Promise.all([op.waitForNavigation(), op.click('form[action="/operator/verify"] button')]);
  assert.ok(await op.locator('#verification.panel-A').isVisible());
  await shot(op, 'operator');
});

test('no serious or critical accessibility violation on the main pages (axe-core)', async () => {
  const anon = await newPage();
  const employer = await newPage();
  await login(employer, 'employer');
  const citizen = await newPage();
  await login(citizen, 'me');
  const pages = [
    [anon, ['/', '/authorizations', '/statistics', '/faq', '/login', '/nope?lang=de']],
    [employer, ['/employer', '/employer/dimona/new', '/employer/dimona/new?type=out', '/employer/mailbox', '/employer/batch']],
    [citizen, ['/citizen']],
  ];
  const found = [];
  for (const [page, paths] of pages) {
    for (const p of paths) {
      await page.goto(base + p);
      for (const v of await axe(page)) found.push(`${p}: ${v.id} (${v.impact}) ${v.nodes.length} node(s)`);
    }
  }
  await anon.goto(base + '/login');
  await shot(anon, 'login');
  assert.deepEqual(found, []);
});
