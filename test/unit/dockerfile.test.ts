// Issue 2, done-when 1: the Dockerfile is syntax-checked without a Docker engine, by the
// same parser/linter the VS Code Docker extension uses (dockerfile-utils), and it copies
// what the build needs.
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { validate } from 'dockerfile-utils'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const root = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)))

test('Dockerfile parses with no errors or warnings', async () => {
  const text = await fs.readFile(path.join(root, 'Dockerfile'), 'utf8')
  const problems = validate(text)
  assert.equal(problems.map(p => `line ${p.range.start.line + 1}: ${p.message}`), [])
})

test('every directory the Dockerfile copies exists in the repository', async () => {
  const text = await fs.readFile(path.join(root, 'Dockerfile'), 'utf8')
  const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(m => (m[1] as string).split(/\s+/))
  assert.ok(sources.length > 0)
  for (const src of sources) await fs.access(path.join(root, src)) // throws (fails the test) when missing
})

test('the Dockerfile runs the CLI entry point', async () => {
  const text = await fs.readFile(path.join(root, 'Dockerfile'), 'utf8')
  assert.match(text, /ENTRYPOINT \["node", "\/app\/bin\/kaisar-node\.js"\]/)
  await fs.access(path.join(root, 'bin', 'kaisar-node.js'))
})

test('a broken Dockerfile is caught (the check can fail)', () => {
  const problems = validate('FROM node:22\nRUNN echo hi\nEXPOSE notaport\n')
  assert.ok(problems.length >= 2)
})

test.run()
