// `npm run bench -- <name> [...]`: runs one benchmark, prints progress on stderr and one
// JSON object as the last stdout line; also writes it to bench/results/<name>.json.
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

type Bench = (args: string[]) => Promise<Record<string, unknown>>

const BENCHES: Record<string, () => Promise<Bench>> = {
  node: async () => (await import('./node.js')).run,
  discovery: async () => (await import('./discovery.js')).run,
  dht: async () => (await import('./dht.js')).run,
  links: async () => (await import('./links.js')).run,
  ledger: async () => (await import('./ledger.js')).run,
  tunnel: async () => (await import('./tunnel.js')).run,
  popw: async () => (await import('./popw.js')).run,
  sim: async () => (await import('./sim.js')).run
}

const name = process.argv[2]
const load = name != null ? BENCHES[name] : undefined
if (load == null) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>\n`)
  process.exit(2)
}
const result = await (await load())(process.argv.slice(3))
const out = { bench: name, node: process.version, at: new Date().toISOString(), ...result }
const dir = path.resolve(fileURLToPath(new URL('../../bench/results', import.meta.url)))
await fs.mkdir(dir, { recursive: true })
await fs.writeFile(path.join(dir, `${name}.json`), JSON.stringify(out, null, 2) + '\n')
process.stdout.write(JSON.stringify(out) + '\n')
// A bench that checks correctness (sim) says so with `ok: false`: the results are written, the exit code fails.
process.exit(result.ok === false ? 1 : 0)
