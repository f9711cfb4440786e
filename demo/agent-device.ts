/**
 * A demo device running the real agent (client-sdk) on file-backed slots, like the
 * end-to-end tests: the "reboot" is the simulated firmware (`bootFileSlots`) and a
 * fresh agent on the same folders. Its health check is a shell script that fails when
 * the booted slot holds a broken build and this device is one of the fragile ones.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createAgent, silentLog, type Agent, type AgentConfig } from '../client-sdk/src/index.js'
import { bootFileSlots, initFileSlots } from '../client-sdk/src/slots/index.js'
import { BROKEN_MARKER } from './image.js'

export interface Installed {
  name: string
  version: string
  sha256: string
  securityVersion: number
}

const healthScript = (slotsDir: string, fragile: boolean) => `#!/bin/sh
# the demo app: crashes at start on fragile hardware when the build carries the broken setting
b=$(grep -o '"booted":"[ab]"' "${slotsDir}/state.json" | cut -d'"' -f4)
if ${fragile ? 'true' : 'false'} && grep -qa '${BROKEN_MARKER}' "${slotsDir}/slot-$b.img"; then
  echo "demo-app: segfault in the new GPU driver (slot $b)" >&2
  exit 1
fi
echo "demo-app: up (slot $b)"
`

export class AgentDevice {
  private agent!: Agent
  private stopped = false
  private loop: Promise<void> | undefined

  private constructor(
    readonly name: string,
    private readonly config: AgentConfig,
    private readonly slotsDir: string,
  ) {}

  /** Provisions the folders (slot a = `image`, committed) and enrolls with `enrollmentToken`. */
  static async create(o: { dir: string; name: string; server: string; root: Buffer; image: Buffer; installed: Installed; fragile: boolean; enrollmentToken: string; pollIntervalSeconds: number }): Promise<AgentDevice> {
    const slotsDir = join(o.dir, 'slots')
    const data = join(o.dir, 'data')
    await mkdir(slotsDir, { recursive: true })
    await mkdir(data, { recursive: true, mode: 0o700 })
    await writeFile(join(slotsDir, 'slot-a.img'), o.image)
    await initFileSlots(slotsDir, 'a')
    await writeFile(join(o.dir, 'root.json'), o.root)
    const check = join(o.dir, 'demo-app-check.sh')
    await writeFile(check, healthScript(slotsDir, o.fragile))
    await chmod(check, 0o755)
    const config: AgentConfig = {
      server: o.server,
      dataDir: data,
      trustedRootFile: join(o.dir, 'root.json'),
      hardware: 'rpi4',
      hardwareId: `pi-agent-${o.name}`,
      tags: ['real-agent', ...(o.fragile ? ['gpu-rev-b'] : [])],
      installed: o.installed,
      slots: { kind: 'file', dir: slotsDir, rebootCommand: ['true'] },
      pollIntervalSeconds: o.pollIntervalSeconds,
      health: { attempts: 1, commands: [{ name: 'demo-app', argv: [check] }] },
    }
    const dev = new AgentDevice(o.name, config, slotsDir)
    dev.agent = await createAgent(config, { log: silentLog })
    await dev.agent.enroll(o.enrollmentToken)
    // a fresh agent reads the credential the enrollment stored
    await dev.powerCycle()
    return dev
  }

  async deviceId(): Promise<string> {
    return (await this.agent.status()).deviceId ?? ''
  }

  /** Simulated firmware boot, then a new agent on the same folders: what a power cycle leaves. */
  private async powerCycle(): Promise<void> {
    this.agent.close()
    await bootFileSlots(this.slotsDir)
    this.agent = await createAgent(this.config, { log: silentLog })
  }

  /** Tick, reboot when the agent asks, wait the poll interval; until stop(). */
  start(onError: (e: unknown) => void): void {
    this.loop = (async () => {
      while (!this.stopped) {
        let wait = this.config.pollIntervalSeconds ?? 3
        try {
          const r = await this.agent.tick()
          if (r.outcome === 'reboot-issued') {
            await this.powerCycle()
            wait = 0.2
          } else if (r.outcome === 'committed' || r.outcome === 'rolled-back' || r.outcome === 'failed') wait = 0.5
        } catch (e) {
          if (!this.stopped) onError(e)
        }
        await sleep(wait * 1000 * (0.75 + Math.random() * 0.5), () => this.stopped)
      }
    })()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
    this.agent.close()
  }
}

/** Sleeps `ms`, waking early (checked every 100 ms) once `cancelled()` says so. */
export async function sleep(ms: number, cancelled: () => boolean = () => false): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end && !cancelled()) await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())))
}
