// Modules the runtime entries import that the DOM library does not describe.

// workerd (and wrangler's bundler) import a .wasm file as a compiled WebAssembly.Module.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

// Node's file reading, as node.js uses it (no @types/node needed to check the package).
declare module 'node:fs/promises' {
  export function readFile(path: URL): Promise<Uint8Array<ArrayBuffer>>;
}
