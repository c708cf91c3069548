package sfsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Token endpoint errors. SF answers a failed token request with
// {"errorHttpCode":"<status>","errorMessage":"<text>"}; the texts below are
// distinct so that a client can classify them by substring:
//
//	400 "Unsupported grant_type ..."                      wrong grant_type
//	400 "Missing required parameter: <name>"               form field missing
//	400 "Unable to decode the SAML assertion ..."          not Base64 or not XML
//	401 "Authentication failed due to invalid companyId"   company_id unknown
//	401 "Invalid client_id: the API key is not registered" client_id unknown
//	401 "Unable to verify the signature of the SAML assertion. ..."
//	                                                       no, bad or foreign signature
//	401 "SAML assertion validation failed: the client certificate has expired"
//	401 "SAML assertion validation failed: the client certificate is not yet valid"
//	401 "SAML assertion validation failed: missing Issuer"
//	401 "SAML assertion validation failed: the assertion has expired"
//	                                                       Conditions or SubjectConfirmationData NotOnOrAfter passed
//	401 "SAML assertion validation failed: the assertion is not yet valid"
//	                                                       NotBefore in the future
//	401 "SAML assertion validation failed: invalid audience"
//	401 "SAML assertion validation failed: invalid recipient"
//	401 "SAML assertion validation failed: api_key attribute does not match client_id"
//	401 "Unable to authenticate the client (Login failed - invalid user)"
//	                                                       NameID is not an active user
const (
	msgInvalidCompany  = "Authentication failed due to invalid companyId"
	msgUnknownClient   = "Invalid client_id: the API key is not registered"
	msgBadSignature    = "Unable to verify the signature of the SAML assertion. Please ensure that the assertion has a signature and the key pairs match the client ID"
	msgCertExpired     = "SAML assertion validation failed: the client certificate has expired"
	msgCertNotYetValid = "SAML assertion validation failed: the client certificate is not yet valid"
	msgNoIssuer        = "SAML assertion validation failed: missing Issuer"
	msgExpired         = "SAML assertion validation failed: the assertion has expired"
	msgNotYetValid     = "SAML assertion validation failed: the assertion is not yet valid"
	msgBadAudience     = "SAML assertion validation failed: invalid audience"
	msgBadRecipient    = "SAML assertion validation failed: invalid recipient"
	msgAPIKeyMismatch  = "SAML assertion validation failed: api_key attribute does not match client_id"
	msgInvalidUser     = "Unable to authenticate the client (Login failed - invalid user)"
	msgUndecodable     = "Unable to decode the SAML assertion: it must be Base64 of a SAML 2.0 Assertion"
	samlBearerGrant    = "urn:ietf:params:oauth:grant-type:saml2-bearer"
	nameIDFormatEmail  = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	expiredTokenMsg    = "[LGN0022]The access token is either rejected or expired"
	expiredTokenMsg403 = "[LGN0006]The access token has expired"
)

// TokenEndpoint is the EntitySet value of a Fault that targets
// /oauth/token instead of an entity set.
const TokenEndpoint = "/oauth/token"

type accessToken struct {
	value   string
	userKey string
	user    string
	expires time.Time
}

func writeTokenError(w http.ResponseWriter, status int, msg string) {
	b := []byte(`{"errorHttpCode":"`)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `","errorMessage":`...)
	b = appendJSONString(b, msg)
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// serveToken trades a signed SAML assertion for an access token. It
// returns the names of the form fields, for the request log.
func (s *Server) serveToken(w *statusRecorder, r *http.Request) []string {
	if r.Method != http.MethodPost {
		writeTokenError(w, http.StatusMethodNotAllowed, "Use POST")
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, http.StatusBadRequest, "Malformed form body")
		return nil
	}
	keys := make([]string, 0, len(r.PostForm))
	for k := range r.PostForm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if f := s.takeFault(TokenEndpoint, -1); f != nil {
		if f.before(w, r, false) {
			return keys
		}
		if f.Kind == FaultTruncate || f.Kind == FaultReset {
			rec := &bufferWriter{header: http.Header{}}
			s.issueToken(rec, r)
			f.cut(w, rec.buf)
			return keys
		}
	}
	s.issueToken(w, r)
	return keys
}

type bufferWriter struct {
	header http.Header
	status int
	buf    []byte
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(code int)        { b.status = code }
func (b *bufferWriter) Write(p []byte) (int, error) { b.buf = append(b.buf, p...); return len(p), nil }

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if g := form.Get("grant_type"); g != samlBearerGrant {
		writeTokenError(w, http.StatusBadRequest, "Unsupported grant_type: use "+samlBearerGrant)
		return
	}
	for _, k := range []string{"company_id", "client_id", "assertion"} {
		if form.Get(k) == "" {
			writeTokenError(w, http.StatusBadRequest, "Missing required parameter: "+k)
			return
		}
	}
	if form.Get("company_id") != s.opts.CompanyID {
		writeTokenError(w, http.StatusUnauthorized, msgInvalidCompany)
		return
	}
	clientID := form.Get("client_id")
	s.authMu.Lock()
	cert := s.clients[clientID]
	s.authMu.Unlock()
	if cert == nil {
		writeTokenError(w, http.StatusUnauthorized, msgUnknownClient)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(form.Get("assertion")))
	if err != nil {
		writeTokenError(w, http.StatusBadRequest, msgUndecodable)
		return
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil || doc.Root().Tag != "Assertion" {
		writeTokenError(w, http.StatusBadRequest, msgUndecodable)
		return
	}
	user, status, msg := s.verifyAssertion(doc.Root(), cert, clientID, s.tokenURL(r))
	if msg != "" {
		writeTokenError(w, status, msg)
		return
	}
	tok := s.grant(clientID, user, form.Get("new_token") == "true")
	b := []byte(`{"access_token":`)
	b = appendJSONString(b, tok.value)
	b = append(b, `,"token_type":"Bearer","expires_in":`...)
	b = strconv.AppendInt(b, int64(tok.expires.Sub(s.now())/time.Second), 10)
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *Server) tokenURL(r *http.Request) string {
	if s.opts.TokenURL != "" {
		return s.opts.TokenURL
	}
	return baseOf(r) + "/oauth/token"
}

// verifyAssertion checks a SAML assertion the way SF is understood to:
// signature against the certificate registered for the client, then the
// conditions, then the user. It returns the user id, or a status and
// message.
func (s *Server) verifyAssertion(el *etree.Element, cert *x509.Certificate, clientID, tokenURL string) (string, int, string) {
	now := s.now()
	skew := s.opts.ClockSkew
	if now.After(cert.NotAfter) {
		return "", 401, msgCertExpired
	}
	if now.Before(cert.NotBefore) {
		return "", 401, msgCertNotYetValid
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(now)
	signed, err := vc.Validate(el)
	if err != nil {
		return "", 401, msgBadSignature
	}
	if sm := signatureMethod(el); sm != "" && sm != dsig.RSASHA256SignatureMethod {
		return "", 401, msgBadSignature
	}
	// Everything below reads the element the signature covers.
	if strings.TrimSpace(text(signed.FindElement("./Issuer"))) == "" {
		return "", 401, msgNoIssuer
	}
	cond := signed.FindElement("./Conditions")
	if cond == nil {
		return "", 401, msgExpired
	}
	if nb, ok := attrTime(cond, "NotBefore"); ok && now.Add(skew).Before(nb) {
		return "", 401, msgNotYetValid
	}
	if na, ok := attrTime(cond, "NotOnOrAfter"); !ok || !now.Add(-skew).Before(na) {
		return "", 401, msgExpired
	}
	audOK := false
	for _, a := range signed.FindElements("./Conditions/AudienceRestriction/Audience") {
		if strings.TrimSpace(a.Text()) == s.opts.Audience {
			audOK = true
		}
	}
	if !audOK {
		return "", 401, msgBadAudience
	}
	scd := signed.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")
	if scd == nil {
		return "", 401, msgBadRecipient
	}
	if !sameURL(scd.SelectAttrValue("Recipient", ""), tokenURL) {
		return "", 401, msgBadRecipient
	}
	if na, ok := attrTime(scd, "NotOnOrAfter"); ok && !now.Add(-skew).Before(na) {
		return "", 401, msgExpired
	}
	attrs := map[string]string{}
	for _, a := range signed.FindElements("./AttributeStatement/Attribute") {
		attrs[a.SelectAttrValue("Name", "")] = strings.TrimSpace(text(a.FindElement("./AttributeValue")))
	}
	if attrs["api_key"] != clientID {
		return "", 401, msgAPIKeyMismatch
	}
	nameID := signed.FindElement("./Subject/NameID")
	if nameID == nil {
		return "", 401, msgInvalidUser
	}
	user, ok := s.lookupUser(strings.TrimSpace(nameID.Text()),
		nameID.SelectAttrValue("Format", "") == nameIDFormatEmail, attrs["use_username"] == "true")
	if !ok {
		return "", 401, msgInvalidUser
	}
	return user, 0, ""
}

func text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	return el.Text()
}

func signatureMethod(el *etree.Element) string {
	sm := el.FindElement("./Signature/SignedInfo/SignatureMethod")
	if sm == nil {
		return ""
	}
	return sm.SelectAttrValue("Algorithm", "")
}

func attrTime(el *etree.Element, name string) (time.Time, bool) {
	v := el.SelectAttrValue(name, "")
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// sameURL compares URLs ignoring case of scheme and host, a default port
// and a trailing slash.
func sameURL(a, b string) bool {
	norm := func(s string) string {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			return "\x00" + s
		}
		host := strings.ToLower(u.Host)
		scheme := strings.ToLower(u.Scheme)
		if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
			host = host[:strings.LastIndex(host, ":")]
		}
		return scheme + "://" + host + strings.TrimSuffix(u.Path, "/")
	}
	return norm(a) == norm(b)
}

// lookupUser resolves a NameID to an active user: by userId, by user name
// (use_username attribute) or by e-mail (emailAddress NameID format).
func (s *Server) lookupUser(name string, byEmail, byUsername bool) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	es := s.sets["User"]
	id := name
	if byEmail || byUsername {
		// Generated user names and addresses end in ".<userId>".
		local, _, _ := strings.Cut(name, "@")
		id = local[strings.LastIndex(local, ".")+1:]
	}
	u, ok := userIndex(id)
	if !ok || u >= es.size() || es.deleted[u] {
		return "", false
	}
	row := es.row(u)
	field := "userId"
	switch {
	case byEmail:
		field = "email"
	case byUsername:
		field = "username"
	}
	if v, _ := row[es.idx[field]].(string); v != name {
		return "", false
	}
	if st, _ := row[es.idx["status"]].(string); st != "t" {
		return "", false
	}
	return row[es.idx["userId"]].(string), true
}

// grant returns the user's unexpired token, as SF does for a repeated
// request, or a fresh one when asked or when there is none.
func (s *Server) grant(clientID, user string, fresh bool) *accessToken {
	now := s.now()
	key := clientID + "\x00" + user
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if t := s.byUser[key]; t != nil && !fresh && now.Before(t.expires) {
		return t
	}
	var b [32]byte
	rand.Read(b[:])
	t := &accessToken{
		value:   base64.RawURLEncoding.EncodeToString(b[:]),
		userKey: key,
		user:    user,
		expires: now.Add(s.opts.TokenTTL),
	}
	s.tokens[t.value] = t
	s.byUser[key] = t
	return t
}

// IssueToken returns a valid access token for userID without a SAML
// exchange, for tests of the OData layer alone.
func (s *Server) IssueToken(userID string) string {
	return s.grant("sfsim-direct", userID, true).value
}

// ExpireTokens makes every access token issued so far invalid, as if they
// had all expired: the next OData request with one gets LGN0022.
func (s *Server) ExpireTokens() {
	s.authMu.Lock()
	clear(s.tokens)
	clear(s.byUser)
	s.authMu.Unlock()
}

// authorize checks the bearer token of an OData request.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.NoAuth {
		return true
	}
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		s.authMu.Lock()
		t := s.tokens[strings.TrimSpace(v)]
		if t != nil && !s.now().Before(t.expires) {
			delete(s.tokens, t.value)
			if s.byUser[t.userKey] == t {
				delete(s.byUser, t.userKey)
			}
			t = nil
		}
		s.authMu.Unlock()
		if t != nil {
			return true
		}
	}
	writeTokenRejected(w, s.opts.ExpiredTokenStatus == http.StatusForbidden)
	return false
}

// writeTokenRejected answers an OData request whose token SF does not
// accept: 401 LGN0022, or the 403 LGN0006 variant.
func writeTokenRejected(w http.ResponseWriter, forbidden bool) {
	if forbidden {
		writeError(w, http.StatusForbidden, "LGN0006", expiredTokenMsg403)
		return
	}
	writeError(w, http.StatusUnauthorized, "LGN0022", expiredTokenMsg)
}

// RegisterClient registers an externally supplied certificate under a
// client id (API key); assertions for that client must be signed with the
// matching key.
func (s *Server) RegisterClient(clientID string, cert *x509.Certificate) {
	s.authMu.Lock()
	s.clients[clientID] = cert
	s.authMu.Unlock()
}

// NewCredential generates a key pair, registers it and returns it. baseURL
// is where the simulator is served (used for TokenURL and the Recipient).
// The credential's user is the first user, who is always active.
func (s *Server) NewCredential(baseURL string) Credential {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("sfsim: generating a key: " + err.Error())
	}
	// A wide validity window, so that tests may set Options.Now far from
	// the wall clock.
	return s.newCredential(baseURL, key, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now().AddDate(20, 0, 0))
}

func (s *Server) newCredential(baseURL string, key *rsa.PrivateKey, notBefore, notAfter time.Time) Credential {
	s.authMu.Lock()
	s.nextCli++
	clientID := "sfsim-client-" + strconv.Itoa(s.nextCli) + "-" + randomHex(6)
	s.authMu.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(s.nextCli)),
		Subject:      pkix.Name{CommonName: "sfsim-client", Organization: []string{"sfsim"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("sfsim: creating a certificate: " + err.Error())
	}
	cert, _ := x509.ParseCertificate(der)
	s.RegisterClient(clientID, cert)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	baseURL = strings.TrimSuffix(baseURL, "/")
	return Credential{
		TokenURL:  baseURL + "/oauth/token",
		CompanyID: s.opts.CompanyID,
		ClientID:  clientID,
		UserID:    userID(0),
		KeyPEM:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
		CertPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const hx = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, c := range b {
		out[2*i], out[2*i+1] = hx[c>>4], hx[c&0xF]
	}
	return string(out)
}
