// The console's plumbing: the API client (Bearer token from sessionStorage), live
// updates over Server-Sent Events read with fetch (EventSource cannot send a header),
// and small formatting helpers.
export { html, render, useState, useEffect, useRef, useCallback } from './vendor/standalone.module.js'
import { useState, useEffect } from './vendor/standalone.module.js'

const KEY = 'slipway.token'
export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token.get()}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (res.status === 204) return null
  const json = await res.json().catch(() => null)
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? 'HTTP_' + res.status, json?.error?.message ?? res.statusText)
  return json
}

/** Calls onChange on every `change` event of `topic` until the returned function is called; reconnects. */
export function subscribe(topic, onChange) {
  const ctrl = new AbortController()
  let stopped = false
  const run = async () => {
    while (!stopped) {
      try {
        const res = await fetch(`/v1/events?topic=${encodeURIComponent(topic)}`, { headers: { authorization: `Bearer ${token.get()}` }, signal: ctrl.signal })
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`)
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
        let buf = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buf += value
          let i
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i)
            buf = buf.slice(i + 2)
            if (/^event: change$/m.test(block)) onChange()
          }
        }
      } catch (e) {
        if (stopped) return
      }
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
  run()
  return () => {
    stopped = true
    ctrl.abort()
  }
}

/** Loads with `load()`, reloads on every change of `topic` (if given) and when `deps` change. */
export function useLive(load, deps, topic) {
  const [state, setState] = useState({ data: null, error: null })
  useEffect(() => {
    let live = true
    let seq = 0
    const refresh = () => {
      const mine = ++seq
      load().then(
        (data) => live && mine === seq && setState({ data, error: null }),
        (error) => live && mine === seq && setState((s) => ({ data: s.data, error })),
      )
    }
    refresh()
    const stop = topic ? subscribe(topic, refresh) : () => {}
    return () => {
      live = false
      stop()
    }
  }, deps)
  return state
}

export const pct = (x) => `${(x * 100).toFixed(1)}%`
export const ago = (iso) => {
  if (!iso) return 'never'
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000)
  if (s < 60) return `${Math.max(0, s)} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}
export const bytes = (n) => (n == null ? '–' : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`)
export const short = (id) => (id ? id.slice(0, 8) : '')
