// js-libp2p 3 calls Promise.withResolvers, which Node 20 lacks (Node >= 22 has it).
// `npm start`/`npm test` run on the pinned Node 22 from node_modules (see README);
// this lets `kaisar-node` still run on a machine's Node 20. Loaded before anything else.
interface WithResolvers<T> { promise: Promise<T>, resolve: (value: T | PromiseLike<T>) => void, reject: (reason?: unknown) => void }

const PromiseCtor = Promise as unknown as { withResolvers?: <T>() => WithResolvers<T> }
if (typeof PromiseCtor.withResolvers !== 'function') {
  PromiseCtor.withResolvers = function withResolvers<T> (): WithResolvers<T> {
    let resolve!: WithResolvers<T>['resolve']
    let reject!: WithResolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

export {}
