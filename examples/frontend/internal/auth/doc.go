// Package auth checks the bearer tokens that callers of the frontend send:
// JSON Web Tokens issued by an OAuth 2 authorization server through the
// client-credentials grant.
//
// A [Validator] accepts a token only when its signature verifies against a
// key from the issuer's JSON Web Key Set, its algorithm is RS256 or ES256,
// its issuer and audience are the configured ones, it is within its
// lifetime (a small leeway allows for clock skew), and it carries the
// required scope. The key set is fetched over HTTPS by a [KeySet], which
// caches it, refetches it when a token names a key id it does not know,
// and never refetches more often than its minimum interval, so a flood of
// forged key ids cannot turn into a flood of requests to the issuer.
//
// [Validator.Middleware] puts the check in front of an [http.Handler] and
// answers failures the way RFC 6750 describes: 401 with error
// "invalid_token" for a missing or bad token, 403 with error
// "insufficient_scope" for a good token without the scope.
//
// Nothing here logs, and no token or part of one appears in an error.
package auth
