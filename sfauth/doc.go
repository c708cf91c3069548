// Package sfauth obtains SuccessFactors OData access tokens with the OAuth
// 2.0 SAML bearer assertion grant (RFC 7522), the flow BTP calls "OAuth2
// SAML Bearer Assertion".
//
// A [Credential] holds what SF needs: the token URL, the company id, the
// API key of the OAuth client (client id), the user the token acts for,
// and the RSA key pair whose certificate is registered with that client.
// [LoadPEM] and [LoadPKCS12] read the key pair; [CertBodyForSF] gives the
// certificate text to paste into SF.
//
// [NewTokenSource] checks the credential once (key matches certificate,
// key size, certificate dates, https) and returns a [TokenSource]. For
// each exchange it builds a fresh assertion, signs it locally with
// RSA-SHA256 and exclusive canonicalisation, and posts it to the token
// URL. The private key never leaves the process: SF's /oauth/idp endpoint,
// which asks for the key, is never used.
//
// A TokenSource reuses its token across goroutines and renews it ahead of
// expiry, with at most one exchange in flight. [TokenSource.Client] wraps
// an *http.Client so that every request carries the bearer token; its
// transport implements Refresh(ctx) error, which the odata package calls
// once after a 401.
//
// Errors from the token endpoint are *[Error] values whose kind can be
// tested with errors.Is against [ErrSignatureRejected],
// [ErrAssertionExpired], [ErrUnknownClient], [ErrUserNotFound] and the
// other sentinels. No error, log record or formatted value of this
// package carries a private key, an assertion or an access token.
package sfauth
