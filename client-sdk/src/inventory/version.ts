/** The agent's version as it reports it in its inventory; equal to client-sdk/package.json's (a test checks). */
export const AGENT_VERSION = '0.1.0'
