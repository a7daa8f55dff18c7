#!/usr/bin/env node
// Drive @modelcontextprotocol/sdk (TypeScript) headlessly, under the MCP conformance client contract.
//
//   MCP_CONFORMANCE_CONTEXT='{"state_dir": "...", "actions": [...], "outcome_json": true}' \
//     node client_under_test/sdk_drivers/ts/driver.mjs http://127.0.0.1:PORT/mcp
//
// Nothing here second-guesses the SDK: StreamableHTTPClientTransport and auth() decide when to
// discover, register, refresh and re-authorize. The driver is the application around them, written
// the way the SDK's own examples are: an OAuthClientProvider (authProvider) that persists tokens and
// client information as JSON in state_dir, whose redirectToAuthorization plays the browser (GET the
// authorization URL without following the redirect, read code/state/iss from Location); on an
// UnauthorizedError the application calls transport.finishAuth(code) and reconnects (or retries the
// call). The context extras and the outcome line are described in ../__init__.py.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const CLIENT_NAME = 'ts-sdk';
const REDIRECT_URI = 'http://127.0.0.1:33418/callback';
const STATE_FILE = 'ts-sdk.json';
const DEFAULT_ACTIONS = [
  { do: 'connect' },
  { do: 'list_tools' },
  { do: 'call_tool', name: 'echo', arguments: { text: 'hello' } }
];

function sdkVersion() {
  // The package's exports map sends "<pkg>/package.json" to dist/, so read the file itself.
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('@modelcontextprotocol/sdk/client/index.js');
    const root = entry.slice(0, entry.lastIndexOf('/dist/'));
    return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

const log = (...args) => console.error('[ts-sdk driver]', ...args);

class Unsupported extends Error {}
class ToolError extends Error {}
class BurstError extends Error {
  constructor(message, detail, kind) {
    super(message);
    this.detail = detail;
    this.kind = kind;
  }
}

function describe(err) {
  if (!err) return 'unknown error';
  const name = err.name || err.constructor?.name || 'Error';
  const cause = err.cause ? ` (cause: ${err.cause.message ?? err.cause})` : '';
  return `${name}: ${err.message ?? String(err)}${cause}`.slice(0, 500);
}

function classify(err) {
  const text = describe(err);
  if (err instanceof UnauthorizedError || /Unauthorized|\b401\b/.test(text)) return 'unauthorized';
  if (/invalid_grant|InvalidGrant/.test(text)) return 'invalid_grant';
  if (/timed? ?out|Timeout/i.test(text)) return 'timeout';
  if (/OAuth|authoriz/i.test(text)) return 'auth_flow';
  return 'other';
}

/** The browser: GETs the authorization URL, never follows the redirect, keeps what came back. */
class HeadlessBrowser {
  constructor(actor) {
    this.actor = actor;
    this.authorizations = 0;
    this.pending = []; // [{code, state, iss, verifier}]
  }

  async authorize(url, verifier) {
    this.authorizations += 1;
    const headers = this.actor ? { 'x-harness-actor': this.actor } : {};
    const resp = await fetch(url, { redirect: 'manual', headers });
    await resp.body?.cancel();
    const location = resp.headers.get('location');
    if (resp.status < 300 || resp.status >= 400 || !location) {
      throw new Error(`authorization endpoint answered ${resp.status} without a redirect`);
    }
    const params = new URL(location, url).searchParams;
    if (params.get('error')) {
      throw new Error(`authorization error=${params.get('error')} ${params.get('error_description') ?? ''}`.trim());
    }
    if (!params.get('code')) throw new Error(`authorization redirect carries no code: ${location}`);
    this.pending.push({ code: params.get('code'), state: params.get('state'), iss: params.get('iss'), verifier });
  }
}

/** The SDK's OAuthClientProvider, persisted as JSON in state_dir (keyed by server URL). */
class FileOAuthProvider {
  constructor(stateDir, serverUrl, browser, ctx) {
    this.path = join(stateDir, STATE_FILE);
    this.serverUrl = serverUrl;
    this.browser = browser;
    this.ctx = ctx;
    this._states = new Set();
    this._codeVerifier = undefined;
    this._discovery = undefined;
  }

  _load() {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return {};
    }
  }

  _get(field) {
    return this._load()[this.serverUrl]?.[field];
  }

  _put(field, value) {
    const data = this._load();
    data[this.serverUrl] ??= {};
    if (value === undefined) delete data[this.serverUrl][field];
    else data[this.serverUrl][field] = value;
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 1));
    renameSync(tmp, this.path);
  }

  get redirectUrl() {
    return this.ctx.redirect_uri || REDIRECT_URI;
  }

  get clientMetadata() {
    return {
      client_name: 'mcp-oauth-harness (typescript sdk driver)',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.ctx.token_endpoint_auth_method || (this.ctx.client_secret ? 'client_secret_post' : 'none')
    };
  }

  state() {
    const s = randomBytes(24).toString('base64url');
    this._states.add(s);
    return s;
  }

  clientInformation() {
    const stored = this._get('client_information');
    if (stored) return stored;
    if (this.ctx.client_id) {
      const info = { client_id: this.ctx.client_id, redirect_uris: [this.redirectUrl] };
      if (this.ctx.client_secret) info.client_secret = this.ctx.client_secret;
      // Without a configured method the SDK picks one from the AS metadata (basic before post).
      if (this.ctx.token_endpoint_auth_method) info.token_endpoint_auth_method = this.ctx.token_endpoint_auth_method;
      return info;
    }
    return undefined;
  }

  saveClientInformation(info) {
    this._put('client_information', info);
  }

  tokens() {
    return this._get('tokens');
  }

  saveTokens(tokens) {
    this._put('tokens', tokens);
  }

  async redirectToAuthorization(authorizationUrl) {
    await this.browser.authorize(authorizationUrl.toString(), this._codeVerifier);
  }

  saveCodeVerifier(verifier) {
    this._codeVerifier = verifier;
  }

  codeVerifier() {
    if (!this._codeVerifier) throw new Error('No code verifier saved');
    return this._codeVerifier;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._put('client_information', undefined);
    if (scope === 'all' || scope === 'tokens') this._put('tokens', undefined);
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }

  saveDiscoveryState(state) {
    this._discovery = state;
  }

  discoveryState() {
    return this._discovery;
  }

  /** The application's half of the callback: the newest authorization response, state checked. */
  takeCallback() {
    const cb = this.browser.pending.pop();
    this.browser.pending.length = 0;
    if (!cb) return undefined;
    if (cb.state && !this._states.has(cb.state)) throw new Error('callback state was never issued by this client');
    if (cb.verifier) this._codeVerifier = cb.verifier;
    return cb;
  }
}

class Driver {
  constructor(serverUrl, ctx) {
    this.serverUrl = serverUrl;
    this.ctx = ctx;
    this.actor = ctx.actor ?? null;
    this.stateDir = ctx.state_dir || mkdtempSync(join(tmpdir(), 'ts-sdk-'));
    mkdirSync(this.stateDir, { recursive: true });
    this.browser = new HeadlessBrowser(this.actor);
    this.control = ctx.control === 'stdio';
    this.steps = [];
    this.errors = [];
    this.client = null;
    this.transport = null;
    this.provider = null;
    this.restarts = 0;
    this._reauth = null;
    this._stdin = null;
  }

  fetch = (url, init = {}) => {
    if (!this.actor) return fetch(url, init);
    const headers = new Headers(init.headers ?? (url instanceof Request ? url.headers : undefined));
    headers.set('x-harness-actor', this.actor);
    return fetch(url, { ...init, headers });
  };

  _newTransport() {
    return new StreamableHTTPClientTransport(new URL(this.serverUrl), {
      authProvider: this.provider,
      fetch: this.fetch
    });
  }

  async _open() {
    this.provider ??= new FileOAuthProvider(this.stateDir, this.serverUrl, this.browser, this.ctx);
    for (let attempt = 0; ; attempt++) {
      const transport = this._newTransport();
      const client = new Client({ name: 'mcp-oauth-harness-ts-driver', version: '0.1.0' });
      try {
        await client.connect(transport);
        this.client = client;
        this.transport = transport;
        return client;
      } catch (err) {
        await client.close().catch(() => {});
        if (!(err instanceof UnauthorizedError) || attempt >= 1) throw err;
        // The SDK sent the user to the authorization URL; the browser came back with a code.
        const cb = this.provider.takeCallback();
        if (!cb) throw err;
        await transport.finishAuth(cb.code);
      }
    }
  }

  async _close() {
    const client = this.client;
    this.client = null;
    this.transport = null;
    if (client) await client.close().catch(err => log('close:', describe(err)));
  }

  async _session() {
    return this.client ?? (await this._open());
  }

  /** An UnauthorizedError mid-session: finish the interactive flow the SDK started, once for all callers. */
  async _recover(err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    this._reauth ??= (async () => {
      const cb = this.provider.takeCallback();
      if (!cb) throw err;
      await this.transport.finishAuth(cb.code);
    })().finally(() => {
      setTimeout(() => (this._reauth = null), 0);
    });
    await this._reauth;
  }

  async _call(action) {
    const name = action.name ?? 'echo';
    const args = action.arguments ?? (name === 'echo' ? { text: 'hello' } : {});
    let client = await this._session();
    let result;
    try {
      result = await client.callTool({ name, arguments: args });
    } catch (err) {
      await this._recover(err);
      client = await this._session();
      result = await client.callTool({ name, arguments: args });
    }
    const text = (result.content ?? []).map(c => c.text ?? '').join(' ').slice(0, 200);
    if (result.isError) throw new ToolError(text);
    return { result: text };
  }

  async _burst(action) {
    const n = Number(action.n ?? 2);
    await this._session();
    const results = await Promise.all(
      Array.from({ length: n }, async () => {
        const t0 = Date.now();
        try {
          const r = await this._call(action);
          return { ok: true, ms: Date.now() - t0, ...r };
        } catch (err) {
          return { ok: false, ms: Date.now() - t0, error: describe(err), kind: classify(err) };
        }
      })
    );
    const failed = results.filter(r => !r.ok);
    const detail = { n, results, failed: failed.length };
    if (failed.length) {
      throw new BurstError(`${failed.length} of ${n} concurrent calls failed: ${failed[0].error}`, detail, failed[0].kind);
    }
    return detail;
  }

  /** One control round trip with the parent (context control=stdio). */
  async _ask(message) {
    this._stdin ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    process.stdout.write(JSON.stringify(message) + '\n');
    const next = await this._stdin.next();
    return next.done || !next.value.trim() ? { ok: false, error: 'parent closed stdin' } : JSON.parse(next.value);
  }

  async _delegate(i, action) {
    if (!this.control) throw new Unsupported(`action ${JSON.stringify(action.do)} needs the harness (context control=stdio)`);
    const reply = await this._ask({ await: i, action });
    if (!reply.ok) throw new Unsupported(reply.error || 'the harness could not perform the action');
    const { ok: _ok, ...rest } = reply;
    return rest;
  }

  async step(i, action) {
    const rec = { i, do: action.do, ok: false };
    const t0 = Date.now();
    const authBefore = this.browser.authorizations;
    // The parent runs the step's "during" actions (gates, revocations) while it is in flight.
    const during = Boolean(action.during) && this.control;
    if (during) await this._ask({ await: i, during: 'start' });
    try {
      switch (action.do) {
        case 'connect':
          await this._session();
          break;
        case 'list_tools': {
          let client = await this._session();
          let tools;
          try {
            tools = await client.listTools();
          } catch (err) {
            await this._recover(err);
            client = await this._session();
            tools = await client.listTools();
          }
          rec.tools = tools.tools.map(t => t.name);
          break;
        }
        case 'call_tool':
          Object.assign(rec, await this._call(action));
          break;
        case 'burst':
          Object.assign(rec, await this._burst(action));
          break;
        case 'restart':
          await this._close();
          this.provider = null; // a new process would start with nothing but what state_dir holds
          this.restarts += 1;
          await this._open();
          break;
        case 'disconnect':
          await this._close();
          break;
        case 'open_tabs':
        case 'replicas':
          throw new Unsupported(`${action.do}: this driver is one process with one session`);
        default:
          Object.assign(rec, await this._delegate(i, action));
      }
      rec.ok = true;
    } catch (err) {
      let kind;
      if (err instanceof BurstError) {
        Object.assign(rec, err.detail);
        kind = err.kind;
      } else if (err instanceof ToolError) kind = 'tool_error';
      else if (err instanceof Unsupported) kind = 'unsupported';
      else {
        kind = classify(err);
        log(`step ${i} ${action.do}:`, err?.stack ?? err);
        if (action.do === 'connect' || action.do === 'restart') await this._close();
      }
      rec.error = err instanceof BurstError ? err.message : describe(err);
      rec.kind = kind;
      this.errors.push({ step: i, kind, message: rec.error });
    }
    if (during) await this._ask({ await: i, during: 'end' });
    rec.ms = Date.now() - t0;
    rec.authorizations = this.browser.authorizations - authBefore;
    this.steps.push(rec);
  }

  outcome() {
    return {
      ok: this.errors.length === 0,
      client: CLIENT_NAME,
      sdk: { name: '@modelcontextprotocol/sdk', version: sdkVersion(), node: process.versions.node },
      scenario: process.env.MCP_CONFORMANCE_SCENARIO ?? null,
      steps: this.steps,
      errors: this.errors,
      authorizations: this.browser.authorizations,
      restarts: this.restarts
    };
  }

  async run(actions) {
    for (let i = 0; i < actions.length; i++) await this.step(i, actions[i]);
    await this._close();
    return this.outcome();
  }
}

function loadContext() {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT || '{}';
  let ctx;
  try {
    ctx = JSON.parse(raw);
  } catch (err) {
    console.error(`MCP_CONFORMANCE_CONTEXT is not JSON: ${err.message}`);
    process.exit(2);
  }
  if (!ctx || typeof ctx !== 'object' || Array.isArray(ctx)) {
    console.error('MCP_CONFORMANCE_CONTEXT must be a JSON object');
    process.exit(2);
  }
  return ctx;
}

function emit(outcome, ctx) {
  const flag = ctx.outcome_json;
  const line = JSON.stringify(outcome);
  if (typeof flag === 'string' && !['', '1', 'true', 'yes'].includes(flag.toLowerCase())) writeFileSync(flag, line + '\n');
  if (flag) process.stdout.write(line + '\n');
  else for (const e of outcome.errors) log(`step ${e.step}: ${e.kind}: ${e.message}`);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length !== 1) {
    console.error('usage: node driver.mjs <server_url>');
    process.exit(2);
  }
  const ctx = loadContext();
  const actions = Array.isArray(ctx.actions) && ctx.actions.length ? ctx.actions : DEFAULT_ACTIONS;
  const driver = new Driver(argv[0], ctx);
  const timeoutS = Number(ctx.timeout_s ?? 60);
  let timer;
  const timedOut = new Promise(resolve => {
    timer = setTimeout(() => {
      driver.errors.push({ step: driver.steps.length, kind: 'timeout', message: `the driver's ${timeoutS}s budget ran out` });
      resolve(driver.outcome());
    }, timeoutS * 1000);
  });
  const outcome = await Promise.race([driver.run(actions), timedOut]);
  clearTimeout(timer);
  emit(outcome, ctx);
  // Open sockets or a pending stdin read must not keep a finished driver alive.
  process.exitCode = outcome.ok ? 0 : 1;
  setTimeout(() => process.exit(process.exitCode), 50).unref();
  process.stdin.destroy();
}

main().catch(err => {
  console.error('[ts-sdk driver] fatal:', err?.stack ?? err);
  if (process.env.MCP_CONFORMANCE_CONTEXT?.includes('outcome_json')) process.stdout.write(JSON.stringify({ ok: false, client: CLIENT_NAME, steps: [], errors: [{ step: 0, kind: 'other', message: describe(err) }] }) + '\n');
  process.exit(1);
});
