package ucan

// Absentee is the signature of a did:mailto issuer, who cannot sign.
func Absentee() Signature { return Signature{Code: codeNonStandard} }
