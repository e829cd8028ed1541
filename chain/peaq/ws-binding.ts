// Makes @polkadot/api talk WebSocket through the `ws` package rather than Node's built-in
// WebSocket (undici, global since Node 22), which @polkadot/x-ws picks when it exists.
//
// Why: undici's close() on a connection still CONNECTING fires no 'close' event. WsProvider
// clears its request-timeout interval only on 'close', so a connect attempt abandoned on a dead or
// silent node keeps the process alive forever (measured here: a unit test that connects to a
// closed port never exits on Node 22, and exits at once on Node 20). Reconnection after a node
// restart is also reported broken with it (polkadot-js/api#6079; a fix that pinned `ws` in
// @polkadot/x-ws, polkadot-js/common#1976, is not in the 14.0.x we install).
//
// How: this module must be imported before @polkadot/api. It hides the global while
// @polkadot/x-ws is evaluated (x-ws then binds `ws`); `restoreGlobalWebSocket()` puts it back
// right after. If x-ws was loaded earlier by another import, this has no effect, and
// runtime.ts says so (`polkadotUsesNativeWebSocket`).
const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket')
if (descriptor?.configurable === true) Reflect.deleteProperty(globalThis, 'WebSocket')

export const nativeWebSocket: unknown = descriptor != null && 'value' in descriptor ? descriptor.value : undefined

export function restoreGlobalWebSocket (): void {
  if (descriptor?.configurable === true && Object.getOwnPropertyDescriptor(globalThis, 'WebSocket') == null) {
    Object.defineProperty(globalThis, 'WebSocket', descriptor)
  }
}
