/**
 * The delta capability a device reports (`slipway-delta-formats`) and the offer format of
 * a built patch: a patch is offered only when its offer format is among the device's, so
 * no device gets a member codec it did not report, and a puff-only patch reaches every
 * device that reports puff, whatever its zlib.
 */
import t from 'tap'
import { deltaFormatsHeader } from '../../client-sdk/src/delta/index.js'
import {
  acceptedDeltaFormats,
  DELTA_FORMAT_V1,
  DELTA_FORMAT_V2,
  DELTA_FORMAT_V2_DEFLATE_PUFF,
  DELTA_FORMAT_V2_PUFF,
  DELTA_FORMAT_V3,
  deltaOfferFormat,
} from '../../server/domain/deltas/delta-formats.js'

const offered = (header: string | undefined, builderZlib: string, version: number, codecs: Array<'deflate' | 'puff' | 'spool'>) =>
  acceptedDeltaFormats(header, builderZlib).includes(deltaOfferFormat(version, codecs))

t.test("this agent's header: both codecs, its own zlib", async (t) => {
  const h = deltaFormatsHeader()
  t.match(h, /^slipway-delta-v1, slipway-delta-v2;zlib=[^;,]+;members=deflate\+puff, slipway-delta-v3;zlib=[^;,]+;members=deflate\+puff\+spool$/)
  const v3 = ['', '+deflate', '+puff', '+deflate+puff', '+spool', '+deflate+spool', '+puff+spool', '+deflate+puff+spool'].map((s) => DELTA_FORMAT_V3 + s)
  t.same(acceptedDeltaFormats(h, process.versions.zlib), [DELTA_FORMAT_V1, DELTA_FORMAT_V2, DELTA_FORMAT_V2_PUFF, DELTA_FORMAT_V2_DEFLATE_PUFF, ...v3])
  t.same(
    acceptedDeltaFormats(h, 'another-zlib'),
    [DELTA_FORMAT_V1, DELTA_FORMAT_V2_PUFF, DELTA_FORMAT_V3, `${DELTA_FORMAT_V3}+puff`, `${DELTA_FORMAT_V3}+spool`, `${DELTA_FORMAT_V3}+puff+spool`],
    'another zlib: puff and spool patches still',
  )
})

t.test('offer formats of built patches', async (t) => {
  t.equal(deltaOfferFormat(1, []), DELTA_FORMAT_V1)
  t.equal(deltaOfferFormat(2, ['deflate']), DELTA_FORMAT_V2, 'codec 1 only: the name every v2 patch had before codec 2')
  t.equal(deltaOfferFormat(2, ['puff']), DELTA_FORMAT_V2_PUFF)
  t.equal(deltaOfferFormat(2, ['deflate', 'puff']), DELTA_FORMAT_V2_DEFLATE_PUFF)
  t.equal(deltaOfferFormat(3, []), 'slipway-delta-v3', 'version 3 without MEMBER ops')
  t.equal(deltaOfferFormat(3, ['deflate']), 'slipway-delta-v3+deflate')
  t.equal(deltaOfferFormat(3, ['puff']), 'slipway-delta-v3+puff')
  t.equal(deltaOfferFormat(3, ['deflate', 'puff']), 'slipway-delta-v3+deflate+puff')
  t.equal(deltaOfferFormat(3, ['spool', 'puff']), 'slipway-delta-v3+puff+spool', 'codecs named in one order, whatever order they come in')
  t.equal(deltaOfferFormat(3, ['spool']), 'slipway-delta-v3+spool')
  t.equal(deltaOfferFormat(3, ['puff', 'deflate', 'spool']), 'slipway-delta-v3+deflate+puff+spool')
})

t.test('spool (codec 3) is offered only to a device that reports it, and only in version 3', async (t) => {
  const zlib = '1.3'
  const before = 'slipway-delta-v1, slipway-delta-v2;zlib=1.3;members=deflate+puff, slipway-delta-v3;zlib=1.3;members=deflate+puff'
  const now = `${before}+spool`
  for (const codecs of [['spool'], ['puff', 'spool'], ['deflate', 'puff', 'spool']] as Array<Array<'deflate' | 'puff' | 'spool'>>) {
    t.notOk(offered(before, zlib, 3, codecs), `an agent from before codec 3 gets no v3 patch with ${codecs.join('+')}`)
    t.ok(offered(now, zlib, 3, codecs), `this agent gets v3 with ${codecs.join('+')}`)
  }
  t.ok(offered(before, zlib, 3, ['puff']), 'the agent from before codec 3 still gets v3 with puff')
  t.notOk(offered('slipway-delta-v1, slipway-delta-v2;members=puff+spool', zlib, 2, ['puff', 'spool']), 'no v2 patch names spool')
  t.same(acceptedDeltaFormats('slipway-delta-v3;members=spool', zlib), [DELTA_FORMAT_V1, DELTA_FORMAT_V3, `${DELTA_FORMAT_V3}+spool`], 'spool alone')
  t.same(acceptedDeltaFormats('slipway-delta-v3;members=zstd+spool2', zlib), [DELTA_FORMAT_V1, DELTA_FORMAT_V3], 'unknown codecs are ignored')
})

t.test('no device is offered a codec it did not report', async (t) => {
  const zlib = '1.3'
  const devices: Array<[string, string | undefined, Array<'deflate' | 'puff'>[]]> = [
    // [what, header, codec sets it may be offered]
    ['no header (old agent)', undefined, []],
    ['v2 before codec 2, same zlib', 'slipway-delta-v1, slipway-delta-v2;zlib=1.3', [['deflate']]],
    ['v2 before codec 2, other zlib', 'slipway-delta-v1, slipway-delta-v2;zlib=1.2.13', []],
    ['puff only, no zlib', 'slipway-delta-v1, slipway-delta-v2;members=puff', [['puff']]],
    ['both, other zlib', 'slipway-delta-v1, slipway-delta-v2;zlib=1.2.13;members=deflate+puff', [['puff']]],
    ['both, same zlib', 'slipway-delta-v1, slipway-delta-v2; zlib=1.3 ; members=puff+deflate', [['deflate'], ['puff'], ['deflate', 'puff']]],
    ['unknown codec only', 'slipway-delta-v1, slipway-delta-v2;zlib=1.3;members=xz', []],
  ]
  for (const [what, header, ok] of devices) {
    t.ok(offered(header, zlib, 1, []), `${what}: version 1 always`)
    for (const codecs of [['deflate'], ['puff'], ['deflate', 'puff']] as Array<Array<'deflate' | 'puff'>>) {
      const want = ok.some((c) => c.join() === codecs.join())
      t.equal(offered(header, zlib, 2, codecs), want, `${what}: v2 with ${codecs.join('+')} ${want ? 'offered' : 'not offered'}`)
      t.notOk(offered(header, zlib, 3, codecs), `${what}: no v3 token, no v3 patch`)
    }
    t.notOk(offered(header, zlib, 3, []), `${what}: not even one without members`)
    // the same device reporting the same codecs for version 3 too
    const v3 = header && `${header}, ${header.split(',').find((x) => x.includes('v2'))!.replace('slipway-delta-v2', 'slipway-delta-v3')}`
    if (!v3) continue
    t.ok(offered(v3, zlib, 3, []), `${what} + v3: v3 without members`)
    for (const codecs of [['deflate'], ['puff'], ['deflate', 'puff']] as Array<Array<'deflate' | 'puff'>>) {
      const want = ok.some((c) => c.join() === codecs.join())
      t.equal(offered(v3, zlib, 3, codecs), want, `${what} + v3: v3 with ${codecs.join('+')} ${want ? 'offered' : 'not offered'}`)
    }
  }
  t.same(acceptedDeltaFormats('slipway-delta-v3', zlib), [DELTA_FORMAT_V1, DELTA_FORMAT_V3], 'v3 alone: no members (its deflate needs a zlib)')
})
