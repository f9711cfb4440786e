/** X.501 Names with the attributes we use: CN (2.5.4.3) and optionally O (2.5.4.10). */
import { oid, seq, set, utf8 } from './der.js'

export interface NameFields {
  commonName: string
  organization?: string
}

export function name(n: NameFields): Buffer {
  const rdns = [] as Buffer[]
  if (n.organization) rdns.push(set(seq(oid('2.5.4.10'), utf8(n.organization))))
  rdns.push(set(seq(oid('2.5.4.3'), utf8(n.commonName))))
  return seq(...rdns)
}
