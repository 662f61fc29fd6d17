// The Remix 3 half of the shared-login example (examples/remix/main.rs is the Rust half, and
// the one port both are reached on). It serves /remix/ with fetch-router and the Remix session
// middleware over the cookie storage: the same cookie, the same secret and the same keys as
// the Rust app, so a login made on either side is seen on the other.
//
//   SESSION_SECRET=... node examples/remix/app.mjs
//
// It listens on a free loopback port and prints {"port": N} as its first line of output.
import * as http from 'node:http'
import { createCookie } from '@remix-run/cookie'
import { createRouter } from '@remix-run/fetch-router'
import { createRequestListener } from '@remix-run/node-fetch-server'
import { Session } from '@remix-run/session'
import { createCookieSessionStorage } from '@remix-run/session/cookie-storage'
import { session } from '@remix-run/session-middleware'

const secret = process.env.SESSION_SECRET
if (!secret || secret.length < 32) {
  console.error('SESSION_SECRET must hold the Rust app\'s secret (32 bytes or more)')
  process.exit(2)
}

// The Rust app's cookie: same name, same secret, same attributes.
const sessionCookie = createCookie(process.env.SESSION_COOKIE ?? 'sid', {
  secrets: [secret],
  httpOnly: true,
  secure: process.env.SESSION_INSECURE !== '1',
  sameSite: 'Lax',
  path: '/',
})

const router = createRouter({
  middleware: [session(sessionCookie, createCookieSessionStorage())],
})

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

router.get('/remix/', ({ get }) => {
  const session = get(Session)
  const visits = Number(session.get('visits') ?? 0) + 1
  session.set('visits', visits)
  const user = session.get('user')
  const notice = session.get('notice') ?? ''
  const body = `<!doctype html><title>Remix 3</title>
<h1>Remix 3 (Node)</h1>
<p id="user">${user ? `Signed in as ${escape(user)}` : 'Not signed in'}</p>
<p id="notice">${escape(notice)}</p>
<p id="visits">Visits: ${visits}</p>
${user ? '<form method="post" action="/remix/logout"><button id="logout">Log out</button></form>' : ''}
<p><a id="to-rust" href="/">To the Rust app</a></p>`
  return new Response(body, { headers: { 'Content-Type': 'text/html; charset=utf-8' } })
})

router.post('/remix/logout', ({ get }) => {
  // Signed out for both apps: the cookie is cleared.
  get(Session).destroy()
  return new Response(null, { status: 303, headers: { Location: '/' } })
})

const server = http.createServer(createRequestListener((request) => router.fetch(request)))
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
