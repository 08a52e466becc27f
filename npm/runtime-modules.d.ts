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

// Node's sockets, as node.js's direct socket uses them.
declare module 'node:net' {
  export interface Socket {
    on(event: 'data', listener: (bytes: Uint8Array) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'close' | 'connect' | 'secureConnect', listener: () => void): this;
    once(event: 'close' | 'connect' | 'secureConnect', listener: () => void): this;
    removeAllListeners(event: string): this;
    write(bytes: Uint8Array): boolean;
    destroy(): this;
  }
  export function connect(options: { host: string; port: number }): Socket;
  export function isIP(input: string): number;
}

declare module 'node:tls' {
  import type { Socket } from 'node:net';
  export interface TLSSocket extends Socket {
    authorized: boolean;
    getProtocol(): string | null;
    getCipher(): { name: string } | undefined;
    getPeerCertificate(): { subject?: Record<string, string | string[]>; issuer?: Record<string, string | string[]>; valid_to?: string } | undefined;
  }
  export function connect(options: { host: string; port?: number; socket?: Socket; servername: string | undefined; rejectUnauthorized: true }): TLSSocket;
}

// workerd's TCP sockets (https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/).
declare module 'cloudflare:sockets' {
  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<unknown>;
    readonly closed: Promise<void>;
    close(): Promise<void>;
    startTls(): Socket;
  }
  export function connect(
    address: { hostname: string; port: number },
    options?: { secureTransport?: 'off' | 'on' | 'starttls'; allowHalfOpen?: boolean },
  ): Socket;
}
