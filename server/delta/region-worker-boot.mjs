// Plain-JS entry of a region worker thread: the worker module is TypeScript, which runs
// here as it runs in the parent (tsx). A parent started with `--import tsx` passes that on
// to the worker; one that registered tsx through its API (`slipway` itself) does not, so
// register it here then.
try {
  await import('./region-worker.ts')
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e
  const { register } = await import('tsx/esm/api')
  register()
  await import('./region-worker.ts?tsx') // a new URL: the failed import of the plain one is cached

}
