// The Explorer: a live view of the network as the node serving this page sees it.
// Plain ES module, no dependencies, no CDN: it only reads the node's own JSON API.
const $ = sel => document.querySelector(sel)
const short = id => id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id
const esc = s => String(s ?? '').replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]))
const ago = ms => { const s = Math.max(0, Math.round((Date.now() - ms) / 1000)); return s < 60 ? `${s}s ago` : `${Math.round(s / 60)}m ago` }
const gib = b => `${Math.round(b / 2 ** 30)} GiB`

async function json (path) {
  const res = await fetch(path)
  if (!res.ok) throw new Error(`${path}: ${res.status}`)
  return await res.json()
}

function rows (tbody, items, render) {
  $(tbody).innerHTML = items.length === 0 ? '<tr><td colspan="9" class="muted">none</td></tr>' : items.map(render).join('')
}

async function refresh () {
  const status = await json('/api/v1/status')
  $('#node').textContent = `${status.role} ${short(status.peerId)} · kaisar-node ${status.version} · up ${status.uptimeS}s`
  const ledger = await json('/api/v1/ledger').catch(() => null)
  const cards = [
    ['peers', status.peers.length],
    ['providers online', status.providers ? `${status.providers.online} / ${status.providers.known}` : '–'],
    ['ledger height', ledger?.head?.height ?? '–'],
    ['chain', ledger ? `${ledger.chain} (${ledger.symbol})` : '–'],
    ['outbox pending', ledger?.outboxPending ?? '–']
  ]
  $('#cards').innerHTML = cards.map(([k, v]) => `<div class="card"><div class="muted">${esc(k)}</div><div class="v">${esc(v)}</div></div>`).join('')
  rows('#peers tbody', status.peers, p => `<tr><td class="mono">${esc(short(p.peerId))}</td><td>${esc(p.role ?? '?')}</td><td>${esc(p.direction)}${p.limited ? ' (relayed)' : ''}</td><td class="mono">${esc(p.addresses[0] ?? '')}</td></tr>`)

  const live = await json('/api/v1/providers').catch(() => [])
  const found = await json('/api/v1/discovery/providers?timeout_ms=3000').catch(() => [])
  // Checkers' scores (gateways and checkers keep settled outcomes; other roles answer 404).
  const scores = new Map((await json('/api/v1/scores').catch(() => [])).map(s => [s.peerId, s]))
  const byId = new Map(found.map(p => [p.peerId, p]))
  const ids = [...new Set([...live.map(p => p.peerId), ...found.map(p => p.peerId)])]
  $('#providers-note').textContent = `(${ids.length}: heartbeats + DHT records)`
  rows('#providers tbody', ids.map(id => ({ id, live: live.find(p => p.peerId === id), rec: byId.get(id) })), ({ id, live: l, rec }) => {
    const hw = rec == null ? '' : `${rec.cpus} cpu · ${gib(rec.memoryBytes)} · ${rec.gpus.length === 0 ? 'no GPU' : rec.gpus.map(g => g.model ?? g.name).join(', ')}`
    const state = l == null ? '<span class="muted">no heartbeat</span>' : l.online ? '<span class="ok">online</span>' : '<span class="bad">offline</span>'
    const free = l == null ? '' : `${l.heartbeat.freeCpus} cpu · ${l.heartbeat.freeGpus} gpu`
    const sc = scores.get(id)
    const score = sc == null ? '<span class="muted">unchecked</span>' : `<span class="${sc.lastResult === 'fail' ? 'bad' : 'ok'}">${esc(sc.score.toFixed(2))}</span> <span class="muted">${esc(sc.passes)}✓ ${esc(sc.fails)}✗</span>`
    return `<tr><td class="mono">${esc(short(id))}</td><td>${state}</td><td>${score}</td><td>${esc(rec?.region || '–')}</td><td>${esc(hw)}</td><td>${esc(free)}</td><td>${esc(l?.heartbeat.runningLeases ?? '')}</td><td>${esc(rec ? `v${rec.recordVersion}` : '')}</td><td>${l ? ago(l.lastSeen) : ''}</td></tr>`
  })

  // The newest settled epochs of Proof of Physical Work.
  const outcomes = await json('/api/v1/outcomes?epochs=8').catch(() => [])
  const epochs = new Map()
  for (const o of outcomes) {
    const e = epochs.get(o.epoch) ?? { epoch: o.epoch, settlement: o.settlement, pass: 0, fail: 0 }
    e[o.result === 'pass' ? 'pass' : 'fail']++
    epochs.set(o.epoch, e)
  }
  rows('#epochs tbody', [...epochs.values()].sort((a, b) => b.epoch - a.epoch), e => `<tr><td>${esc(e.epoch)}</td><td class="ok">${esc(e.pass)}</td><td class="${e.fail > 0 ? 'bad' : 'muted'}">${esc(e.fail)}</td><td class="mono">${esc(short(e.settlement.root))}</td><td>${esc(e.settlement.height)}</td><td class="mono">${esc(short(e.settlement.submitter))}</td></tr>`)

  if (status.role === 'provider') {
    $('#leases-section').hidden = false
    const leases = await json('/api/v1/leases').catch(() => [])
    rows('#leases tbody', leases, l => `<tr><td class="mono">${esc(l.leaseId)}</td><td>${esc(l.status)}</td><td>${esc(l.order.image)}</td><td>${esc(l.order.ports.join(', '))}</td><td>${l.expiresAt ? new Date(l.expiresAt).toLocaleString() : ''}</td><td>${esc(l.reason ?? '')}</td></tr>`)
  }
}

async function loop () {
  try { await refresh() } catch (err) { $('#node').textContent = `cannot reach the node: ${err.message}` }
  setTimeout(loop, 2000)
}
loop()
