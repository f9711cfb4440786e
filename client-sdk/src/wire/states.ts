/** The one list of device report states and install modes (DEVICE-API.md "Events"). */

/** A device's report states, in the order an update passes them. */
export const DEVICE_STATES = ['downloading', 'installing', 'rebooting', 'health-checking', 'succeeded', 'failed', 'rolled-back'] as const
export type DeviceState = (typeof DEVICE_STATES)[number]

/** How a release got into its slot: a full image, a delta, or a switch back to the other slot. */
export const INSTALL_MODES = ['full', 'delta', 'slot-switch'] as const
export type InstallMode = (typeof INSTALL_MODES)[number]

export const DeviceStateSchema = { type: 'string', enum: DEVICE_STATES } as const
export const InstallModeSchema = { type: 'string', enum: INSTALL_MODES } as const
