/**
 * Mints a join token for a room server with auth on.
 *
 *   npm run token -- --room standup --name Ada [--ttl 3600] [--secret S]
 *
 * The secret defaults to MESHCALL_AUTH_SECRET. The token goes to stdout alone,
 * so it can be piped; the link to share goes to stderr.
 */
import { parseArgs } from 'node:util'
import { mintToken } from '../party/auth'
import { isValidRoomName } from '../protocol/messages'

function fail(message: string): never {
  process.stderr.write(`token: ${message}\nusage: npm run token -- --room ROOM --name NAME [--ttl SECONDS] [--secret SECRET]\n`)
  process.exit(2)
}

let values
try {
  ;({ values } = parseArgs({
    options: {
      room: { type: 'string' },
      name: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      secret: { type: 'string', default: process.env.MESHCALL_AUTH_SECRET },
    },
  }))
} catch (error) {
  fail(error instanceof Error ? error.message : String(error))
}
if (!values.room || !isValidRoomName(values.room)) fail('--room must be 1 to 64 characters of A-Z a-z 0-9 _ -')
if (!values.name?.trim()) fail('--name is required')
if (!values.secret) fail('no secret: pass --secret or set MESHCALL_AUTH_SECRET')
const ttl = Number(values.ttl)
if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl must be a whole number of seconds')

const token = await mintToken(values.secret, { room: values.room, name: values.name.trim() }, ttl)
process.stdout.write(`${token}\n`)
process.stderr.write(`valid for ${ttl} s; join with /r/${values.room}?token=${token}\n`)
