package sfsim

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"time"
)

// FaultKind says how a faulty response goes wrong.
type FaultKind int

const (
	// FaultStatus answers with Fault.Status (default 500) and SF's JSON
	// error envelope, or an HTML page when Fault.HTML is set, with a
	// Retry-After header when Fault.RetryAfter is set. 429 with
	// RetryAfter is throttling.
	FaultStatus FaultKind = iota
	// FaultMaintenance answers 503 with SF's HTML maintenance page.
	FaultMaintenance
	// FaultReset sends the status line and Fault.AfterBytes bytes of the
	// real body, then drops the connection.
	FaultReset
	// FaultTruncate answers 200 with a body cut after Fault.AfterBytes
	// bytes (default half), and a Content-Length that matches the cut body.
	FaultTruncate
	// FaultForeignNext serves the page with a __next link on another host
	// (Fault.NextHost, default "sfsim-other.invalid").
	FaultForeignNext
	// FaultLoopNext serves the page with a __next link equal to the URL
	// just requested, so a client sees the same link twice.
	FaultLoopNext
	// FaultSnapshotLost answers SF's 500 COE0019 snapshot-lost error.
	FaultSnapshotLost
	// FaultSlow serves the page normally after Fault.Delay.
	FaultSlow
	// FaultEmptyPage answers an empty results array whose __next asks for
	// the same page again.
	FaultEmptyPage
	// FaultTokenRejected answers the OData request 401 LGN0022 (or 403
	// LGN0006 under Options.ExpiredTokenStatus) although the token is
	// valid, as when a token expires mid-run.
	FaultTokenRejected
)

var faultNames = [...]string{"status", "maintenance", "reset", "truncate", "foreign-next",
	"loop-next", "snapshot-lost", "slow", "empty-page", "token-rejected"}

// String names the kind, for test output.
func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// AnyPage makes a Fault match every page.
const AnyPage = -1

// Fault makes matching requests fail. Faults apply to collection pages
// (EntitySet and Page) and to the token endpoint (EntitySet ==
// TokenEndpoint, Page ignored); single-entity, $count and $metadata
// requests are served normally. The zero value fails the first page of
// any entity set once with a 500.
type Fault struct {
	EntitySet string    // "" matches every entity set; TokenEndpoint the token endpoint
	Page      int       // 0-based page index; AnyPage matches all
	Times     int       // how many matching requests fail; 0 means 1, negative means every one
	Kind      FaultKind // how it fails; the zero value is FaultStatus

	Status     int           // FaultStatus: status code; 0 means 500
	RetryAfter string        // FaultStatus: Retry-After value, seconds or an HTTP date
	HTML       bool          // FaultStatus: HTML body instead of JSON
	Body       string        // FaultStatus: body to send instead of the default
	AfterBytes int           // FaultReset, FaultTruncate: bytes of body sent
	Delay      time.Duration // FaultSlow: extra latency
	NextHost   string        // FaultForeignNext: host of the __next link
}

type faultState struct {
	Fault
	left int // remaining; < 0 unlimited
}

// Inject adds a fault; faults match in the order they were added. It is
// safe to call while the simulator serves.
func (s *Server) Inject(f Fault) {
	st := &faultState{Fault: f, left: f.Times}
	if f.Times == 0 {
		st.left = 1
	}
	s.faultMu.Lock()
	s.faults = append(s.faults, st)
	s.faultMu.Unlock()
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	s.faults = nil
	s.faultMu.Unlock()
}

// PendingFaults returns how many injected faults have not been used up.
func (s *Server) PendingFaults() int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return len(s.faults)
}

// takeFault returns the first fault matching a request and uses it up.
// The token endpoint matches only faults aimed at it.
func (s *Server) takeFault(set string, page int) *faultState {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, f := range s.faults {
		if set == TokenEndpoint {
			if f.EntitySet != TokenEndpoint {
				continue
			}
		} else if (f.EntitySet != "" && f.EntitySet != set) || (f.Page != AnyPage && f.Page != page) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

const maintenancePage = `<!DOCTYPE html>
<html><head><title>SAP SuccessFactors - Scheduled Maintenance</title></head>
<body><h1>Service Temporarily Unavailable</h1>
<p>SAP SuccessFactors is undergoing scheduled maintenance. Please try again later.</p></body></html>
`

// before answers the request itself when the fault replaces the response;
// it reports whether it did. Faults that alter a served page return false.
// forbidden selects the 403 LGN0006 form of FaultTokenRejected.
func (f *faultState) before(w http.ResponseWriter, r *http.Request, forbidden bool) bool {
	switch f.Kind {
	case FaultStatus:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		switch {
		case f.Body != "":
			if f.HTML {
				w.Header().Set("Content-Type", "text/html;charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "application/json;charset=utf-8")
			}
			w.WriteHeader(status)
			w.Write([]byte(f.Body))
		case f.HTML:
			w.Header().Set("Content-Type", "text/html;charset=utf-8")
			w.WriteHeader(status)
			w.Write([]byte("<html><head><title>" + strconv.Itoa(status) + " " + http.StatusText(status) +
				"</title></head><body><h1>" + http.StatusText(status) + "</h1></body></html>\n"))
		default:
			code := "COE_GENERAL_SERVER_FAILURE"
			switch {
			case status == http.StatusTooManyRequests:
				code = "COE_TOO_MANY_REQUESTS"
			case status < 500:
				code = "COE_BAD_REQUEST"
			}
			writeError(w, status, code, "[COE0000]"+http.StatusText(status))
		}
		return true
	case FaultMaintenance:
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(maintenancePage))
		return true
	case FaultSnapshotLost:
		e := snapshotLost()
		writeError(w, e.status, e.code, e.msg)
		return true
	case FaultTokenRejected:
		writeTokenRejected(w, forbidden)
		return true
	case FaultSlow:
		sleep(r, f.Delay)
	}
	return false
}

// cut sends part of a rendered body: a short but well-framed 200 for
// FaultTruncate, or a dropped connection for FaultReset.
func (f *faultState) cut(w http.ResponseWriter, body []byte) {
	n := f.AfterBytes
	if n <= 0 || n >= len(body) {
		n = len(body) / 2
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if f.Kind == FaultTruncate {
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:n])
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body[:n])
	rc := http.NewResponseController(w)
	rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		// Close the TCP connection under any TLS layer with a reset, so the
		// client sees the stream end mid-body.
		raw := conn
		if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
			raw = nc.NetConn()
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		raw.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// throttle applies Options.RateLimit with a token bucket; it reports
// whether it answered the request with 429.
func (s *Server) throttle(w http.ResponseWriter) bool {
	rate := s.opts.RateLimit
	if rate <= 0 {
		return false
	}
	burst := max(rate, 1)
	now := s.now()
	s.rateMu.Lock()
	if s.rateLast.IsZero() {
		s.rateTokens = burst
	} else if d := now.Sub(s.rateLast); d > 0 {
		s.rateTokens = min(burst, s.rateTokens+d.Seconds()*rate)
	}
	s.rateLast = now
	ok := s.rateTokens >= 1
	if ok {
		s.rateTokens--
	}
	wait := math.Ceil((1 - s.rateTokens) / rate)
	s.rateMu.Unlock()
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(int(wait), 1)))
	writeError(w, http.StatusTooManyRequests, "COE_TOO_MANY_REQUESTS",
		"[COE0000]API calling limit exceeded, try later")
	return true
}
