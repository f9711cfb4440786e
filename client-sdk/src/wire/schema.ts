/**
 * The JSON Schema subset the wire contract is written in, and the TypeScript type a
 * schema describes. Schemas are plain objects written `as const`: Fastify (Ajv)
 * takes them as route schemas, the agent checks answers with `validate.ts`, and
 * the types come from the same objects, so the contract has one source.
 *
 * Why a small hand-rolled `FromSchema` rather than TypeBox or json-schema-to-ts:
 * client-sdk ships as one file with no dependencies, and the subset below is all the
 * device contract uses. A keyword outside it types as `unknown`, never as a wrong type.
 */

/** The keywords the device contract uses (JSON Schema 2020-12 / draft-07 meaning). */
export interface JsonSchema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null'
  readonly properties?: { readonly [k: string]: JsonSchema }
  readonly required?: readonly string[]
  /** false: refused (requests); absent: allowed, so a newer server may add fields to an answer */
  readonly additionalProperties?: boolean | JsonSchema
  readonly items?: JsonSchema
  readonly minItems?: number
  readonly maxItems?: number
  readonly minLength?: number
  readonly maxLength?: number
  readonly pattern?: string
  readonly minimum?: number
  readonly maximum?: number
  readonly exclusiveMinimum?: number
  readonly enum?: readonly (string | number | boolean | null)[]
  readonly const?: string | number | boolean | null
  readonly anyOf?: readonly JsonSchema[]
  /** filled in by the server's validator (Ajv useDefaults): optional to send, present once received */
  readonly default?: unknown
  readonly description?: string
}

/**
 * `Sent`: the value as a sender writes it (a property with a default may be left out).
 * `Received`: the value after the server's validator (properties with a default are present).
 */
export type Mode = 'sent' | 'received'

type Simplify<T> = { [K in keyof T]: T[K] } & {}

type RequiredKeys<S, P, M extends Mode> =
  | (S extends { readonly required: readonly (infer R)[] } ? R : never)
  | (M extends 'received' ? { [K in keyof P]: P[K] extends { readonly default: unknown } ? K : never }[keyof P] : never)

type Props<S, P, M extends Mode> = Simplify<
  { -readonly [K in keyof P as K extends RequiredKeys<S, P, M> ? K : never]: FromSchema<P[K], M> } & {
    -readonly [K in keyof P as K extends RequiredKeys<S, P, M> ? never : K]?: FromSchema<P[K], M>
  }
>

/** Properties beyond those listed: refused (false), any (true or absent), or of one schema. */
type Extra<S, M extends Mode> = S extends { readonly additionalProperties: infer A }
  ? A extends boolean
    ? A extends false
      ? {}
      : Record<string, unknown>
    : Record<string, FromSchema<A, M>>
  : Record<string, unknown>

type ObjectOf<S, M extends Mode> = S extends { readonly properties: infer P }
  ? S extends { readonly additionalProperties: unknown }
    ? Props<S, P, M> & Extra<S, M>
    : Props<S, P, M>
  : Extra<S, M>

/** The type of the values a schema accepts. */
export type FromSchema<S, M extends Mode = 'sent'> = S extends { readonly anyOf: readonly (infer U)[] }
  ? U extends unknown
    ? FromSchema<U, M>
    : never
  : S extends { readonly const: infer C }
    ? C
    : S extends { readonly enum: readonly (infer E)[] }
      ? E
      : S extends { readonly type: 'string' }
        ? string
        : S extends { readonly type: 'integer' | 'number' }
          ? number
          : S extends { readonly type: 'boolean' }
            ? boolean
            : S extends { readonly type: 'null' }
              ? null
              : S extends { readonly type: 'array'; readonly items: infer I }
                ? FromSchema<I, M>[]
                : S extends { readonly type: 'object' }
                  ? ObjectOf<S, M>
                  : unknown

/** The value as the server's route handler sees it (defaults filled in). */
export type Received<S> = FromSchema<S, 'received'>
