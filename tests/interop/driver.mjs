// Live interop driver: runs tasks against the real Remix 3 packages
// (@remix-run/session 0.4.2, @remix-run/cookie 0.5.3, @remix-run/headers 0.21.1).
//
// Reads a JSON array of tasks on stdin and writes a JSON array of results on stdout.
//   {"op": "read", "name", "secrets", "cookie", "flashKeys"}
//     -> {"parsed": bool, "id", "values", "flash", "size"}   (Remix reads a cookie we wrote)
//   {"op": "write", "name", "secrets", "id", "values": [[k, v]...], "flash": [[k, v]...]}
//     -> {"setCookie"}                                       (Remix writes a cookie we read)
import { createCookie } from '@remix-run/cookie'
import { createSession } from '@remix-run/session'
import { createCookieSessionStorage } from '@remix-run/session/cookie-storage'

const storage = createCookieSessionStorage()

async function run(task) {
  const cookie = createCookie(task.name, { secrets: task.secrets })
  if (task.op === 'read') {
    const value = await cookie.parse(task.cookie)
    const session = await storage.read(value)
    const flash = {}
    for (const key of task.flashKeys) flash[key] = session.get(key)
    return {
      parsed: value !== null && value !== '',
      id: session.id,
      values: session.data[0],
      flash,
      size: session.size,
    }
  }
  if (task.op === 'write') {
    const session = createSession(task.id)
    for (const [key, value] of task.values) session.set(key, value)
    for (const [key, value] of task.flash) session.flash(key, value)
    const value = await storage.save(session)
    return { setCookie: await cookie.serialize(value) }
  }
  throw new Error(`unknown op ${task.op}`)
}

// Bytes first, decoded once: `input += chunk` decoded each chunk on its own, so a character
// split across two chunks of stdin became U+FFFD (seed 1032217041999421 hit it).
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = Buffer.concat(chunks).toString('utf8')
const results = []
for (const task of JSON.parse(input)) results.push(await run(task))
process.stdout.write(JSON.stringify(results))
