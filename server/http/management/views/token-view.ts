/** Enrollment tokens as operators see them: never the hash; the secret only in the answer that issued it. */
import { Type, type Static } from 'typebox'

export const EnrollmentTokenView = Type.Object({
  id: Type.String(),
  group: Type.String(),
  maxUses: Type.Integer(),
  uses: Type.Integer(),
  expiresAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Type.String(),
  requireTpm: Type.Optional(Type.Boolean({ description: 'refuse devices whose key is not proven TPM-resident' })),
})
export type EnrollmentTokenView = Static<typeof EnrollmentTokenView>

export const IssuedEnrollmentToken = Type.Object({ token: Type.String({ description: 'the secret, shown only here' }), ...EnrollmentTokenView.properties })

export const EnrollmentTokenList = Type.Object({ tokens: Type.Array(EnrollmentTokenView) })
