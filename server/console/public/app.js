// Slipway console: hash routes, sign-in with an API token, one page per concern.
import { html, render, useState, useEffect, api, token, ApiError } from './lib.js'
import { Overview } from './page-overview.js'
import { RolloutList, RolloutDetail } from './page-rollouts.js'
import { DeviceList, DeviceDetail } from './page-devices.js'
import { Releases } from './page-releases.js'
import { AuditLog } from './page-audit.js'

function parseRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?')
  return { parts: (path || '/').split('/').filter(Boolean), query: new URLSearchParams(query) }
}

function SignIn({ onIn }) {
  const [value, setValue] = useState('')
  const [error, setError] = useState(null)
  const submit = async (e) => {
    e.preventDefault()
    token.set(value.trim())
    try {
      onIn(await api('/v1/whoami'))
    } catch (err) {
      token.clear()
      setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err))
    }
  }
  return html`<main class="signin">
    <h1>Slipway console</h1>
    <form onSubmit=${submit}>
      <label for="token">API token (operator or admin to act; viewer to watch)</label>
      <input id="token" name="token" type="password" autocomplete="off" required value=${value} onInput=${(e) => setValue(e.target.value)} />
      <button type="submit">Sign in</button>
      ${error && html`<p role="alert" class="error">${error}</p>`}
      <p class="hint">The token stays in this tab (sessionStorage) and is sent as a Bearer header; closing the tab signs you out.</p>
    </form>
  </main>`
}

const NAV = [
  ['#/', 'Fleet'],
  ['#/rollouts', 'Rollouts'],
  ['#/devices', 'Devices'],
  ['#/releases', 'Releases'],
  ['#/audit', 'Audit log'],
]

function Page({ route, me }) {
  const [a, b] = route.parts
  if (a === 'rollouts' && b) return html`<${RolloutDetail} id=${b} me=${me} />`
  if (a === 'rollouts') return html`<${RolloutList} query=${route.query} />`
  if (a === 'devices' && b) return html`<${DeviceDetail} id=${b} me=${me} />`
  if (a === 'devices') return html`<${DeviceList} query=${route.query} />`
  if (a === 'releases') return html`<${Releases} />`
  if (a === 'audit') return html`<${AuditLog} />`
  return html`<${Overview} />`
}

function App() {
  const [me, setMe] = useState(undefined)
  const [route, setRoute] = useState(parseRoute())
  useEffect(() => {
    const on = () => setRoute(parseRoute())
    addEventListener('hashchange', on)
    if (token.get()) api('/v1/whoami').then(setMe, () => (token.clear(), setMe(null)))
    else setMe(null)
    return () => removeEventListener('hashchange', on)
  }, [])
  if (me === undefined) return html`<p aria-busy="true">Loading…</p>`
  if (me === null) return html`<${SignIn} onIn=${setMe} />`
  const here = '#/' + (route.parts[0] ?? '')
  return html`<div class="app">
    <a class="skip" href="#main">Skip to content</a>
    <header>
      <strong>Slipway</strong>
      <nav aria-label="Main">${NAV.map(([href, label]) => html`<a href=${href} aria-current=${(href === '#/' ? here === '#/' : here.startsWith(href)) ? 'page' : undefined}>${label}</a>`)}</nav>
      <span class="me" data-role=${me.role}>${me.role}${me.canAct ? '' : ' (read-only)'}</span>
      <button class="link" onClick=${() => (token.clear(), setMe(null))}>Sign out</button>
    </header>
    <main id="main" tabindex="-1"><${Page} route=${route} me=${me} /></main>
  </div>`
}

render(html`<${App} />`, document.getElementById('root'))
