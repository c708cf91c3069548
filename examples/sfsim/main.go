// Sfsim serves the SuccessFactors simulator on a loopback port, over TLS
// with a certificate it generates, so that the other examples can run
// against it as against a real tenant.
//
//	go run ./examples/sfsim -users 20000 -latency 20ms -faults 503:3,reset:1
//
// Once it listens it writes, in -out (default ./sfsim):
//
//	ca.pem          the certificate to trust (-ca of examples/run and frontend)
//	tenant.json     a TenantConfig pointing at the simulator
//	keystore/       the SAML bearer credential and the S3 keys it names
//
// and prints the commands that use them. The S3 fields hold placeholders
// unless -s3-* flags are given, so stage with -dir, or point the flags at a
// real S3 server:
//
//	go run ./examples/run -config sfsim/tenant.json -keystore sfsim/keystore \
//	    -ca sfsim/ca.pem -dir ./staged -datatype users
//	go run ./examples/ingest -dir ./staged -base-path sfsim -datatype users | head
//
// The same server is also a development OAuth 2 issuer for
// examples/frontend, under /issuer: a JWKS at /issuer/jwks.json and a
// client-credentials token endpoint at /issuer/oauth/token, which gives
// the client "dev-client" (its secret is generated at each start and
// printed) RS256 tokens with iss, aud (-audience), scope (-scope) and a
// five-minute exp. The printed frontend command trusts it through the same
// -ca, and the printed curl commands get a token and POST a run with it.
// A real deployment uses its own identity provider instead.
//
// -faults makes requests fail, for watching retries: a comma-separated list
// of kind:times, where kind is an HTTP status (429 comes with Retry-After:
// 1), reset, truncate, maintenance, snapshot-lost, slow or token-rejected.
// Each hits any entity set and any page, in order. -dump DIR writes the
// records of every entity set as DIR/{EntitySet}.ndjson, to compare with
// what a run staged.
//
// It refuses to listen on anything but a loopback address: it is a test
// double, and its credentials are written in the clear.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/internal/authtest"
	"github.com/techwolf/sfconnector/examples/internal/tlsutil"
	"github.com/techwolf/sfconnector/internal/sfsim"
)

type config struct {
	addr, out, dump string
	audience, scope string // of the development issuer's tokens
	sim             sfsim.Options
	faults          []sfsim.Fault
	s3              s3Settings
}

// s3Settings go into tenant.json and the keystore as they are.
type s3Settings struct {
	bucket, region, basePath, endpoint, accessKey, secretKey string
}

func main() {
	var cfg config
	var faults string
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8444", "loopback address to listen on (port 0 picks one)")
	flag.StringVar(&cfg.out, "out", "sfsim", "directory for ca.pem, tenant.json and keystore/")
	flag.StringVar(&cfg.dump, "dump", "", "write every entity set's records to this directory as NDJSON")
	flag.IntVar(&cfg.sim.Users, "users", 5000, "number of users (the other entity sets scale with it)")
	flag.Int64Var(&cfg.sim.Seed, "seed", 1, "data seed: the same seed gives the same records")
	flag.IntVar(&cfg.sim.PageSize, "page-size", 1000, "server page size, at most 1000")
	flag.DurationVar(&cfg.sim.Latency, "latency", 0, "latency added to every OData response")
	flag.StringVar(&faults, "faults", "", "faults to inject, e.g. 503:3,429:2,reset:1")
	flag.StringVar(&cfg.audience, "audience", "sfconnector", "audience (aud) of the development issuer's tokens")
	flag.StringVar(&cfg.scope, "scope", "sfconnector.runs", "scope of the development issuer's tokens")
	flag.StringVar(&cfg.s3.bucket, "s3-bucket", "placeholder-bucket", "S3_bucket of tenant.json")
	flag.StringVar(&cfg.s3.region, "s3-region", "eu-west-1", "S3_region of tenant.json")
	flag.StringVar(&cfg.s3.basePath, "s3-base-path", "sfsim", "S3_base_path of tenant.json")
	flag.StringVar(&cfg.s3.endpoint, "s3-endpoint", "", "S3_endpoint of tenant.json (an S3-compatible server)")
	flag.StringVar(&cfg.s3.accessKey, "s3-access-key", "placeholder-access-key", "S3 access key for the keystore")
	flag.StringVar(&cfg.s3.secretKey, "s3-secret-key", "placeholder-secret-key", "S3 secret key for the keystore")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	if cfg.faults, err = parseFaults(faults); err == nil {
		err = run(cfg, log)
	}
	if err != nil {
		log.Error("sfsim stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	if !tlsutil.IsLoopback(cfg.addr) {
		return fmt.Errorf("-addr %s is not a loopback address", cfg.addr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sim := sfsim.New(cfg.sim)
	for _, f := range cfg.faults {
		sim.Inject(f)
	}
	cert, certPEM, err := tlsutil.SelfSigned("sfsim")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	base := "https://" + ln.Addr().String()

	if cfg.dump != "" {
		if err := dump(sim, cfg.dump); err != nil {
			return err
		}
	}
	if err := writeSetup(cfg, base, certPEM, sim.NewCredential(base)); err != nil {
		return err
	}
	issuer, err := authtest.NewDevIssuer(base+issuerPath, cfg.audience, cfg.scope)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(sim, issuer),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	printUsage(os.Stdout, cfg, base, issuer)
	log.Info("serving", "url", base, "users", cfg.sim.Users, "faults", len(cfg.faults))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

// writeSetup writes ca.pem, the keystore and, last, tenant.json, so that a
// tenant.json on disk means the rest is there too.
func writeSetup(cfg config, base string, certPEM []byte, cred sfsim.Credential) error {
	ks := filepath.Join(cfg.out, "keystore")
	if err := os.MkdirAll(ks, 0o700); err != nil {
		return err
	}
	credJSON, err := json.MarshalIndent(map[string]string{
		"companyId":   cred.CompanyID,
		"clientId":    cred.ClientID,
		"userId":      cred.UserID,
		"privateKey":  string(cred.KeyPEM),
		"certificate": string(cred.CertPEM),
		"tokenUrl":    cred.TokenURL,
	}, "", "  ")
	if err != nil {
		return err
	}
	tenant, err := json.MarshalIndent(connector.TenantConfig{
		SFAddress:        base,
		SFCredentialName: "sf-credential",
		S3Bucket:         cfg.s3.bucket,
		S3Region:         cfg.s3.region,
		S3BasePath:       cfg.s3.basePath,
		S3AccessKeyAlias: "s3-access-key",
		S3SecretKeyAlias: "s3-secret-key",
		S3Endpoint:       cfg.s3.endpoint,
	}, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{filepath.Join(cfg.out, "ca.pem"), certPEM, 0o644},
		{filepath.Join(ks, "sf-credential"), credJSON, 0o600},
		{filepath.Join(ks, "s3-access-key"), []byte(cfg.s3.accessKey), 0o600},
		{filepath.Join(ks, "s3-secret-key"), []byte(cfg.s3.secretKey), 0o600},
		{filepath.Join(cfg.out, "tenant.json"), append(tenant, '\n'), 0o644},
	}
	for _, f := range files {
		if err := writeFileAtomic(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// dump writes the records of every entity set as NDJSON files.
func dump(sim *sfsim.Server, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, set := range sim.EntitySets() {
		f, err := os.Create(filepath.Join(dir, set+".ndjson"))
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for _, rec := range sim.Records(set) {
			if err := enc.Encode(rec); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// issuerPath is where the development issuer is served on the simulator's
// server; the simulator's own paths are /oauth/token and /odata/v2.
const issuerPath = "/issuer"

// handler serves the simulator, and the issuer under issuerPath.
func handler(sim *sfsim.Server, iss *authtest.Issuer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(issuerPath+"/", http.StripPrefix(issuerPath, iss.Handler()))
	mux.Handle("/", sim.Handler())
	return mux
}

// frontendAddr is examples/frontend's default -addr.
const frontendAddr = "127.0.0.1:8443"

func printUsage(w io.Writer, cfg config, base string, iss *authtest.Issuer) {
	p := func(name string) string { return filepath.Join(cfg.out, name) }
	basePath := cfg.s3.basePath
	if basePath == "" {
		basePath = `""`
	}
	fmt.Fprintf(w, `SuccessFactors simulator at %[1]s
  trust:       %[2]s
  tenant:      %[3]s
  keystore:    %[4]s

One run, staged in ./staged, and its records read back:
  go run ./examples/run -config %[3]s -keystore %[4]s -ca %[2]s -dir ./staged -datatype users
  go run ./examples/ingest -dir ./staged -base-path %[5]s -datatype users | head

The frontend in front of it, trusting the development issuer at %[6]s:
  go run ./examples/frontend -self-signed -cert frontend.pem \
      -config %[3]s -keystore %[4]s -ca %[2]s -dir ./staged \
      -issuer %[6]s -audience %[7]s -scope %[8]s \
      -jwks-url %[9]s

A token (client %[10]s, valid for 5 minutes), then a run through the frontend:
  TOKEN=$(curl -sS --cacert %[2]s -u '%[10]s:%[11]s' \
      -d grant_type=client_credentials %[12]s \
      | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  curl -sS --cacert frontend.pem -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' -d '{"dataType":"users"}' \
      https://%[13]s/v1/runs
`, base, p("ca.pem"), p("tenant.json"), p("keystore"), basePath,
		iss.Issuer(), cfg.audience, cfg.scope, iss.JWKSURL(),
		iss.ClientID, iss.ClientSecret, iss.TokenURL(), frontendAddr)
}

// parseFaults reads kind:times pairs; see the package comment.
func parseFaults(spec string) ([]sfsim.Fault, error) {
	if spec == "" {
		return nil, nil
	}
	var faults []sfsim.Fault
	for _, item := range strings.Split(spec, ",") {
		kind, timesText, _ := strings.Cut(strings.TrimSpace(item), ":")
		times := 1
		if timesText != "" {
			n, err := strconv.Atoi(timesText)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("-faults: %q: times must be a positive number", item)
			}
			times = n
		}
		f := sfsim.Fault{Page: sfsim.AnyPage, Times: times}
		switch kind {
		case "reset":
			f.Kind, f.AfterBytes = sfsim.FaultReset, 64
		case "truncate":
			f.Kind = sfsim.FaultTruncate
		case "maintenance":
			f.Kind = sfsim.FaultMaintenance
		case "snapshot-lost":
			f.Kind = sfsim.FaultSnapshotLost
		case "slow":
			f.Kind, f.Delay = sfsim.FaultSlow, 2*time.Second
		case "token-rejected":
			f.Kind = sfsim.FaultTokenRejected
		default:
			status, err := strconv.Atoi(kind)
			if err != nil || status < 400 || status > 599 {
				return nil, errors.New("-faults: unknown kind " + strconv.Quote(kind))
			}
			f.Kind, f.Status = sfsim.FaultStatus, status
			if status == http.StatusTooManyRequests {
				f.RetryAfter = "1"
			}
		}
		faults = append(faults, f)
	}
	return faults, nil
}
