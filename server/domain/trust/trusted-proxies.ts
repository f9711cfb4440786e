/** SLIPWAY_TRUSTED_PROXIES: the peers whose forwarded client certificate is believed. */
import { BlockList, isIP } from 'node:net'

export class TrustedProxies {
  readonly #list = new BlockList()
  readonly size: number

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [addr, bits] = e.split('/') as [string, string | undefined]
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4'
      if (bits === undefined) this.#list.addAddress(addr, type)
      else this.#list.addSubnet(addr, Number(bits), type)
    }
    this.size = entries.length
  }

  has(peer: string | undefined): boolean {
    if (!peer || this.size === 0) return false
    // a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer)?.[1]
    if (v4) return this.#list.check(v4, 'ipv4')
    const family = isIP(peer)
    return family !== 0 && this.#list.check(peer, family === 6 ? 'ipv6' : 'ipv4')
  }
}
