// The end user's commands: order, connect, leases, cancel, logs. Each runs a short-lived user
// node (its own keys in --data-dir, default ~/.kaisar/user) joined through a gateway.
import { Command } from 'commander'
import os from 'node:os'
import path from 'node:path'
import { ConfigError } from '../../errors.js'
import type { LeaseEvent, Order } from '../../../protocols/lease/messages.js'
import type { UserNode } from '../../user/user-node.js'

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

interface UserOpts { dataDir?: string, gateway?: string[], chain?: string, ledgerPeer?: string, peaqEscrow?: string, json?: boolean, logLevel?: string }

function withUserOptions (cmd: Command): Command {
  return cmd
    .option('--gateway <multiaddr>', 'gateway to join through (…/p2p/<id>), repeatable (or KAISAR_GATEWAY, comma-separated)', collect)
    .option('--data-dir <dir>', 'the user\'s keys and leases (default ~/.kaisar/user)')
    .option('--chain <chain>', 'ledger: "local" (default) or a peaq ws:// URL')
    .option('--ledger-peer <multiaddr>', 'the local ledger\'s host (default: the first gateway)')
    .option('--peaq-escrow <address>', 'on peaq: the deployment\'s escrow account (or KAISAR_PEAQ_ESCROW)')
    .option('--json', 'print JSON')
}

async function openUser (opts: UserOpts): Promise<UserNode> {
  const { UserNode } = await import('../../user/user-node.js')
  const gateways = opts.gateway ?? (process.env.KAISAR_GATEWAY ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  return await UserNode.open({
    dataDir: opts.dataDir ?? process.env.KAISAR_USER_DATA_DIR ?? path.join(os.homedir(), '.kaisar', 'user'),
    gateways,
    chain: opts.chain ?? process.env.KAISAR_CHAIN ?? 'local',
    ledgerPeer: opts.ledgerPeer,
    peaqEscrow: opts.peaqEscrow ?? process.env.KAISAR_PEAQ_ESCROW,
    passphrase: process.env.KAISAR_PASSPHRASE
  })
}

async function withUser<T> (opts: UserOpts, fn: (user: UserNode) => Promise<T>): Promise<T> {
  const user = await openUser(opts)
  try { return await fn(user) } finally { await user.close() }
}

function parseSize (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim())
  if (m == null) throw new ConfigError('memory', `not a size: ${JSON.stringify(text)} (e.g. 512m, 2g)`)
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m[2] ?? '').toLowerCase()] as number
  return Math.round(Number(m[1]) * mult)
}

function eventLine (e: LeaseEvent): string {
  switch (e.event) {
    case 'accepted': return `accepted      lease ${e.leaseId}`
    case 'pulling': return `pulling       ${e.status} ${e.totalBytes > 0 ? `${Math.round(e.currentBytes / 2 ** 20)}/${Math.round(e.totalBytes / 2 ** 20)} MiB` : ''}`
    case 'deploying': return `deploying     ${e.message}`
    case 'deployed': return `deployed      ${e.message} (ports ${e.ports.join(', ')})`
    case 'failed': return `failed        ${e.reason}`
    case 'stopped': return `stopped       ${e.reason}`
    case 'status': return `status        ${e.status}${e.reason != null ? ` (${e.reason})` : ''}`
    case 'error': return `error         ${e.code}: ${e.message}`
    case 'log': return Buffer.from(e.data, 'base64').toString('utf8')
  }
}

export function orderCommand (): Command {
  return withUserOptions(new Command('order')
    .description('rent a container: find providers, compare quotes, pay the escrow, deploy')
    .requiredOption('--image <image>', 'container image')
    .option('--cmd <arg>', 'command and arguments, repeatable', collect)
    .option('--env <K=V>', 'environment variable, repeatable', collect)
    .option('--cpus <n>', 'CPUs', '1')
    .option('--memory <size>', 'memory (e.g. 512m, 2g)', '512m')
    .option('--gpus <n>', 'GPUs', '0')
    .option('--gpu <model>', 'GPU model id (h100-sxm, …)')
    .option('--port <port>', 'container TCP port to publish, repeatable', collect)
    .option('--hours <h>', 'lease length in hours', '1')
    .option('--max-price <amount>', 'highest price per hour you accept, in tokens')
    .option('--region <cc>', 'ISO 3166-1 alpha-2 region'))
    .action(async (opts: UserOpts & { image: string, cmd?: string[], env?: string[], cpus: string, memory: string, gpus: string, gpu?: string, port?: string[], hours: string, maxPrice?: string, region?: string }) => {
      const { orderSchema } = await import('../../../protocols/lease/messages.js')
      const parsed = orderSchema.safeParse({
        image: opts.image,
        cmd: opts.cmd,
        env: opts.env == null ? undefined : Object.fromEntries(opts.env.map(kv => { const i = kv.indexOf('='); if (i < 1) throw new ConfigError('env', `not K=V: ${kv}`); return [kv.slice(0, i), kv.slice(i + 1)] })),
        cpus: Number(opts.cpus),
        memoryBytes: parseSize(opts.memory),
        gpus: Number(opts.gpus),
        gpuModel: opts.gpu,
        ports: (opts.port ?? []).map(Number),
        seconds: Math.round(Number(opts.hours) * 3600)
      })
      if (!parsed.success) { const i = parsed.error.issues[0]; throw new ConfigError(String(i?.path[0] ?? 'order'), i?.message ?? 'invalid') }
      const order: Order = parsed.data
      await withUser(opts, async user => {
        const { placeOrder } = await import('../../user/order.js')
        const { parseTokenAmount } = await import('../../../chain/amount.js')
        const { settledScores } = await import('../../user/settled-scores.js')
        const maxPrice = opts.maxPrice != null ? parseTokenAmount(opts.maxPrice, user.ledger.decimals) : undefined
        const checks = await settledScores({ libp2p: user.libp2p, ledger: user.ledger, logger: user.log }, user.gatewayPeers)
        if (opts.json !== true && checks.epochs.length > 0) process.stderr.write(`checker outcomes: ${checks.epochs.length} settled epoch(s) verified against the ledger\n`)
        const result = await placeOrder(user, order, {
          checks,
          filter: { gpu: order.gpus > 0 ? opts.gpu : undefined, region: opts.region },
          maxPricePerHour: maxPrice,
          onProgress: msg => { if (opts.json !== true) process.stderr.write(`${msg}\n`) },
          onEvent: e => { if (opts.json !== true) process.stdout.write(eventLine(e) + '\n') }
        })
        if (opts.json === true) {
          process.stdout.write(JSON.stringify({
            leaseId: result.lease.leaseId, provider: result.lease.provider, token: result.lease.token, ports: order.ports, expiresAt: result.lease.expiresAt,
            ingress: `/lease/${result.lease.leaseId}/?kaisar_token=${result.lease.token ?? ''}`,
            escrow: result.lease.escrow, pricePerHour: result.lease.pricePerHour, events: result.events.map(e => e.event),
            choice: { why: result.chosen.why, ranked: result.ranked.map(r => ({ provider: r.quote.provider, rank: r.rank, pricePerHour: r.quote.pricePerHour, why: r.why })), rejected: result.rejected }
          }) + '\n')
        } else {
          process.stdout.write(`\nlease ${result.lease.leaseId} on ${result.lease.provider}\nchosen because: ${result.chosen.why}\nconnect: kaisar-node connect ${result.lease.leaseId} --local 8080:${order.ports[0] ?? 80}\n` +
            `browser: http://<gateway API>/lease/${result.lease.leaseId}/?kaisar_token=${result.lease.token ?? ''}\n`)
        }
      })
    })
}

export function connectCommand (): Command {
  return withUserOptions(new Command('connect')
    .description('open local ports to a lease\'s container ports (each TCP connection is a Noise-encrypted tunnel)')
    .argument('<lease>', 'lease id')
    .option('--local <map>', 'LOCAL:CONTAINER port (e.g. 8080:80), repeatable; LOCAL 0 picks a free port', collect)
    .option('--bind <host>', 'local address to listen on', '127.0.0.1')
    .option('--tunnel <mode>', 'through a gateway: dedicated (each connection its own spliced socket, fastest for bulk bytes) or shared (streams of one connection, quicker to open)', 'dedicated'))
    .action(async (leaseId: string, opts: UserOpts & { local?: string[], bind: string, tunnel: string }) => {
      if (opts.tunnel !== 'dedicated' && opts.tunnel !== 'shared') throw new ConfigError('tunnel', `dedicated or shared, not ${opts.tunnel}`)
      const tunnel: 'dedicated' | 'shared' = opts.tunnel
      const user = await openUser(opts)
      try {
        const lease = await user.book.get(leaseId)
        if (lease?.token == null) throw new ConfigError('lease', `no running lease ${leaseId} in this data dir (see kaisar-node leases)`)
        const { forwardPort, reachProvider } = await import('../../user/lease-client.js')
        const reached = await reachProvider(user.libp2p, user.discovery, lease.provider, lease.addresses)
        if (reached.addresses !== lease.addresses) await user.book.update(leaseId, { addresses: reached.addresses })
        const peer = reached.peer
        const maps = (opts.local ?? [`0:${lease.order.ports[0] ?? 80}`]).map(m => {
          const [l, c] = m.split(':').map(Number)
          if (l == null || c == null || !Number.isInteger(l) || !Number.isInteger(c)) throw new ConfigError('local', `not LOCAL:CONTAINER: ${m}`)
          return { localHost: opts.bind, localPort: l, containerPort: c, tunnel }
        })
        // A provider behind a gateway: the splice is made now, not on the first connection.
        await user.libp2p.services.splice?.connect(peer, { signal: AbortSignal.timeout(15_000) })
        const route = user.libp2p.services.splice?.pathTo(peer)
        const via = route == null ? '' : route.gateway != null ? ` (${route.path} through gateway …${route.gateway.slice(-8)}${route.path === 'spliced' ? `, ${tunnel} tunnels` : ''})` : ` (${route.path})`
        const servers = []
        for (const m of maps) {
          const server = await forwardPort(user.libp2p, peer, lease.token, m, user.log)
          const port = (server.address() as { port: number }).port
          servers.push(server)
          const line = { event: 'listening', leaseId, local: `${m.localHost}:${port}`, containerPort: m.containerPort, ...(route != null ? { path: route.path, ...(route.gateway != null ? { gateway: route.gateway, ...(route.path === 'spliced' ? { tunnel } : {}) } : {}) } : {}) }
          process.stdout.write(opts.json === true ? JSON.stringify(line) + '\n' : `${m.localHost}:${port} → lease ${leaseId} port ${m.containerPort}${via}\n`)
        }
        await new Promise<void>(resolve => {
          process.once('SIGINT', () => { resolve() })
          process.once('SIGTERM', () => { resolve() })
        })
        for (const s of servers) s.close()
      } finally {
        await user.close()
      }
    })
}

export function leasesCommand (): Command {
  return withUserOptions(new Command('leases').description('list your leases (from this data dir; with --refresh, asks each provider)')
    .option('--refresh', 'ask the providers for the current status'))
    .action(async (opts: UserOpts & { refresh?: boolean }) => {
      const run = async (user: UserNode | undefined, list: Awaited<ReturnType<UserNode['book']['list']>>): Promise<void> => {
        if (user != null && opts.refresh === true) {
          const { reachProvider, leaseEvents } = await import('../../user/lease-client.js')
          for (const l of list.filter(x => x.status === 'running' || x.status === 'deploying')) {
            try {
              const { peer } = await reachProvider(user.libp2p, user.discovery, l.provider, l.addresses)
              for await (const e of leaseEvents(user.libp2p, peer, { op: 'status', leaseId: l.leaseId }, { signal: AbortSignal.timeout(10_000) })) {
                if (e.event === 'status') Object.assign(l, await user.book.update(l.leaseId, { status: e.status === 'accepted' ? 'deploying' : e.status, reason: e.reason }))
              }
            } catch {}
          }
        }
        if (opts.json === true) { process.stdout.write(JSON.stringify(list) + '\n'); return }
        if (list.length === 0) { process.stdout.write('no leases\n'); return }
        for (const l of list) process.stdout.write(`${l.leaseId}  ${l.status.padEnd(9)} ${l.order.image}  ports ${l.order.ports.join(',') || '-'}  ${l.provider}${l.reason != null ? `  (${l.reason})` : ''}\n`)
      }
      if (opts.refresh === true) await withUser(opts, async user => { await run(user, await user.book.list()) })
      else await withUser(opts, async user => { await run(undefined, await user.book.list()) })
    })
}

export function cancelCommand (): Command {
  return withUserOptions(new Command('cancel').description('end a lease: the container is stopped and removed, the escrow settled').argument('<lease>', 'lease id'))
    .action(async (leaseId: string, opts: UserOpts) => {
      await withUser(opts, async user => {
        const lease = await user.book.get(leaseId)
        if (lease == null) throw new ConfigError('lease', `no lease ${leaseId} in this data dir`)
        const { reachProvider, leaseEvents } = await import('../../user/lease-client.js')
        const { peer } = await reachProvider(user.libp2p, user.discovery, lease.provider, lease.addresses)
        for await (const e of leaseEvents(user.libp2p, peer, { op: 'cancel', leaseId }, { signal: AbortSignal.timeout(60_000) })) {
          if (e.event === 'error') throw new ConfigError('lease', `${e.code}: ${e.message}`)
          if (e.event === 'stopped') await user.book.update(leaseId, { status: 'stopped', reason: e.reason })
          process.stdout.write(opts.json === true ? JSON.stringify(e) + '\n' : eventLine(e) + '\n')
        }
      })
    })
}

export function logsCommand (): Command {
  return withUserOptions(new Command('logs').description('a lease container\'s output, through its provider').argument('<lease>', 'lease id')
    .option('--tail <n>', 'only the last N lines')
    .option('-f, --follow', 'keep following'))
    .action(async (leaseId: string, opts: UserOpts & { tail?: string, follow?: boolean }) => {
      await withUser(opts, async user => {
        const lease = await user.book.get(leaseId)
        if (lease == null) throw new ConfigError('lease', `no lease ${leaseId} in this data dir`)
        const { reachProvider, leaseEvents } = await import('../../user/lease-client.js')
        const { peer } = await reachProvider(user.libp2p, user.discovery, lease.provider, lease.addresses)
        for await (const e of leaseEvents(user.libp2p, peer, { op: 'logs', leaseId, tail: opts.tail != null ? Number(opts.tail) : undefined, follow: opts.follow === true })) {
          if (e.event === 'error') throw new ConfigError('lease', `${e.code}: ${e.message}`)
          if (e.event === 'log') (e.stream === 'stderr' ? process.stderr : process.stdout).write(Buffer.from(e.data, 'base64'))
        }
      })
    })
}
