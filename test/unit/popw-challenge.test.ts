// The seeded benchmark challenge (protocols/popw/challenge.ts): an honest answer verifies; a
// replayed answer, garbage rows or a wrong path do not; the checker's work is a small fraction
// of the provider's; n and the deadline follow the claimed class.
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MerkleTree } from '../../chain/merkle.js'
import { CPU_BASELINE_RATE, N_MAX, OPEN_ROWS, checkOpenedRows, claimedCompute, expandMatrix, pickRows, planChallenge, productRow, solveChallenge, challengeKey, MODULUS } from '../../protocols/popw/challenge.js'
import { simulatedInventory, SIM_GPUS } from '../../sim/hardware.js'

const provider = new Uint8Array(randomBytes(38))
const rand = (max: number): number => Math.floor(Math.random() * max)
const nonce = (): Uint8Array => new Uint8Array(randomBytes(32))

test('the product is exact: a row equals the schoolbook sum mod p', () => {
  const n = 40
  const key = challengeKey(nonce(), provider)
  const a = expandMatrix(key, 'A', n)
  const b = expandMatrix(key, 'B', n)
  for (const i of [0, 17, 39]) {
    const row = productRow(a, b, n, i)
    for (const j of [0, 5, 39]) {
      let s = 0n
      for (let k = 0; k < n; k++) s += BigInt(a[i * n + k] as number) * BigInt(b[k * n + j] as number)
      assert.is(row[j], Number(s % BigInt(MODULUS)))
    }
  }
  assert.not.equal(Buffer.from(expandMatrix(key, 'A', 8).buffer), Buffer.from(expandMatrix(challengeKey(nonce(), provider), 'A', 8).buffer), 'another nonce, another matrix')
})

test('an honest answer verifies; the same answer to a fresh nonce (a replay) does not', async () => {
  const n = 64
  const first = nonce()
  const solved = await solveChallenge(first, provider, n)
  const asked = pickRows(n, rand)
  assert.is(asked.length, OPEN_ROWS)
  const open = (s: typeof solved, rows: number[]): Array<{ index: number, data: Uint8Array, proof: Uint8Array[] }> => rows.map(index => ({ index, data: s.rows[index] as Uint8Array, proof: s.tree.proof(index) }))
  assert.equal(checkOpenedRows(first, provider, n, solved.root, asked, open(solved, asked)), { ok: true })
  // Replay: the old root and rows against a new nonce.
  assert.equal(checkOpenedRows(nonce(), provider, n, solved.root, asked, open(solved, asked)), { ok: false, reason: 'wrong-row' })
  // Another provider's answer to the same nonce is not this provider's.
  assert.equal(checkOpenedRows(first, new Uint8Array(randomBytes(38)), n, solved.root, asked, open(solved, asked)), { ok: false, reason: 'wrong-row' })
  // A row that is not under the committed root.
  const other = await solveChallenge(nonce(), provider, n)
  assert.equal(checkOpenedRows(first, provider, n, other.root, asked, open(solved, asked)), { ok: false, reason: 'bad-proof' })
  assert.equal(checkOpenedRows(first, provider, n, solved.root, asked, open(solved, asked).slice(1)), { ok: false, reason: 'missing-row' })
})

test('computing half the rows and committing garbage for the rest fails 8 random spot checks (almost always)', async () => {
  const n = 64
  const nn = nonce()
  const honest = await solveChallenge(nn, provider, n)
  const rows = honest.rows.map((r, i) => i % 2 === 0 ? r : new Uint8Array(r.length))
  const tree = MerkleTree.fromLeaves(rows)
  let passed = 0
  for (let t = 0; t < 200; t++) {
    const asked = pickRows(n, rand)
    const res = checkOpenedRows(nn, provider, n, tree.root, asked, asked.map(index => ({ index, data: rows[index] as Uint8Array, proof: tree.proof(index) })))
    if (res.ok) passed++
  }
  assert.ok(passed <= 5, `a half-computed answer passed ${passed}/200 (expected ≈ 200 / 256 ≈ 0.8)`)
})

test('the checker works a small fraction of what the provider does', async () => {
  const n = 256
  const nn = nonce()
  const t0 = performance.now()
  const solved = await solveChallenge(nn, provider, n)
  const solveMs = performance.now() - t0
  const asked = pickRows(n, rand)
  const t1 = performance.now()
  assert.ok(checkOpenedRows(nn, provider, n, solved.root, asked, asked.map(index => ({ index, data: solved.rows[index] as Uint8Array, proof: solved.tree.proof(index) }))).ok)
  const checkMs = performance.now() - t1
  assert.ok(checkMs * 4 < solveMs, `check ${checkMs.toFixed(1)} ms vs solve ${solveMs.toFixed(1)} ms`)
})

test('n and the deadline follow the claimed class; a GPU claim gets the largest n and a short deadline', () => {
  const cpu = claimedCompute(simulatedInventory([]))
  assert.equal(cpu, { id: 'cpu', rate: CPU_BASELINE_RATE })
  const gpu = claimedCompute(simulatedInventory([SIM_GPUS.t4, SIM_GPUS.h100]))
  assert.is(gpu.id, 'gpu:h100-sxm', 'the fastest GPU claimed')
  const pc = planChallenge(cpu, 200, 10)
  const pg = planChallenge(gpu, 200, 10)
  assert.is(pg.n, N_MAX)
  assert.ok(pc.n < 300 && pc.n > 150, `cpu n ${pc.n}`)
  assert.ok(pg.deadlineMs < pc.deadlineMs)
  // A GPU class's challenge takes a CPU far longer than its deadline: N_MAX³ multiply-adds at ~0.3 GMAC/s ≈ 3.5 s.
  assert.ok(N_MAX ** 3 / 0.5e9 * 1000 > 4 * pg.deadlineMs, `deadline ${pg.deadlineMs} ms`)
})

test('solving gives up when its signal aborts', async () => {
  const ac = new AbortController()
  setTimeout(() => { ac.abort() }, 20)
  try {
    await solveChallenge(nonce(), provider, N_MAX, ac.signal)
    assert.unreachable('should abort')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ABORTED')
  }
})

// The give-up projects the rows left at the solver's own computing pace. One long turn of a busy
// event loop (another node in the same process, another challenge) is time passed, charged once,
// not a pace: charging it per row made honest providers give up (CI, popw-cheaters, stop 13).
test('one stall of a shared event loop does not make a feasible challenge give up', async () => {
  const n = 400
  const t0 = performance.now()
  await solveChallenge(nonce(), provider, n)
  const computeMs = performance.now() - t0
  const stallMs = 300
  const budgetMs = Math.ceil(stallMs + 3 * computeMs + 50)
  // Queued before the solver starts, so it runs in the solver's first yield.
  setImmediate(() => { const until = performance.now() + stallMs; while (performance.now() < until); })
  const started = performance.now()
  const solved = await solveChallenge(nonce(), provider, n, undefined, budgetMs)
  assert.is(solved.rows.length, n)
  assert.ok(performance.now() - started < budgetMs, `solved in ${Math.round(performance.now() - started)} ms, budget ${budgetMs} ms (compute alone ${Math.round(computeMs)} ms)`)
})

test('a challenge that cannot fit its budget is given up early, not at the deadline', async () => {
  const n = 400
  const t0 = performance.now()
  await solveChallenge(nonce(), provider, n)
  const computeMs = performance.now() - t0
  const budgetMs = Math.max(10, Math.floor(computeMs / 4))
  const started = performance.now()
  try {
    await solveChallenge(nonce(), provider, n, undefined, budgetMs)
    assert.unreachable('should give up')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ABORTED')
    assert.ok(performance.now() - started < computeMs, `gave up after ${Math.round(performance.now() - started)} ms of ${Math.round(computeMs)} ms`)
  }
})

test.run()
