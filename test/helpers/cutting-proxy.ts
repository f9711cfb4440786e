/**
 * A TCP proxy on loopback that can stall an upload after N request bytes, to test
 * resumption after network loss or a killed client deterministically.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'

export class CuttingProxy extends EventEmitter {
  private server = net.createServer((client) => this.onConnection(client))
  private sockets = new Set<net.Socket>()
  /** Stall every connection once it has sent this many bytes (undefined: pass through). */
  holdAfter: number | undefined
  port = 0

  constructor(private readonly target: { host: string; port: number }) {
    super()
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.port = (this.server.address() as net.AddressInfo).port
    return `http://127.0.0.1:${this.port}`
  }

  private onConnection(client: net.Socket): void {
    const upstream = net.connect(this.target)
    this.sockets.add(client).add(upstream)
    let sent = 0
    client.on('data', (chunk: Buffer) => {
      if (this.holdAfter !== undefined && sent + chunk.length > this.holdAfter) {
        const part = chunk.subarray(0, Math.max(0, this.holdAfter - sent))
        if (part.length) upstream.write(part)
        sent += part.length
        client.pause()
        this.emit('held', sent)
        return
      }
      sent += chunk.length
      upstream.write(chunk)
    })
    upstream.pipe(client)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  }

  /** Drop every open connection, as a network loss would. */
  cutAll(): void {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  async close(): Promise<void> {
    this.cutAll()
    await new Promise((r) => this.server.close(r))
  }
}
