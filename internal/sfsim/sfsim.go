// Package sfsim is a SuccessFactors simulator for tests, benchmarks and the
// examples.
package sfsim

import (
	"net/http"
	"time"
)

// Options configures a simulator. The zero value means the defaults.
type Options struct {
	Users       int           // number of User records; 0 means 5000
	Seed        int64         // data seed; same seed, same data
	PageSize    int           // default server page size; 0 means 1000
	Latency     time.Duration // added to every OData response
	TokenTTL    time.Duration // access token lifetime; 0 means 24h
	CompanyID   string        // "" means "SFSIM"
}

// Credential is a test client registered with the simulator. All fields are
// PEM or plain text; sfsim does not import sfauth.
type Credential struct {
	TokenURL  string
	CompanyID string
	ClientID  string
	UserID    string
	KeyPEM    []byte // PKCS#8 RSA private key
	CertPEM   []byte
}

// Server is a running simulator.
type Server struct{}

// New builds a simulator with its data; Handler serves it.
func New(opts Options) *Server { panic("unimplemented") }

// Handler serves /oauth/token and /odata/v2/.
func (s *Server) Handler() http.Handler { panic("unimplemented") }

// NewCredential generates a key pair, registers it and returns it. baseURL
// is where the simulator is served (used for TokenURL and the Recipient).
func (s *Server) NewCredential(baseURL string) Credential { panic("unimplemented") }

// Records returns the records the simulator holds for an entity set, as
// SF would serve them, in key order.
func (s *Server) Records(entitySet string) []map[string]any { panic("unimplemented") }
