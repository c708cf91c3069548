package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
	"github.com/techwolf/sfconnector/runstate"
)

// maxBodyBytes bounds a request body; a run request is a few dozen bytes.
const maxBodyBytes = 64 << 10

// runService is the part of *connector.Connector the API uses.
type runService interface {
	Submit(ctx context.Context, dataType string) (string, error)
	Status(ctx context.Context, runID string) (*runstate.Record, error)
}

// api serves the /v1 endpoints.
type api struct {
	runs      runService
	dataTypes []string // the allowlist, in catalog order
	log       *slog.Logger
}

// newHandler returns the frontend's routes: /healthz open to all, /v1 behind
// the token check, and one log line per request around everything.
func newHandler(runs runService, dataTypes []string, v *auth.Validator, log *slog.Logger) http.Handler {
	a := &api{runs: runs, dataTypes: slices.Clone(dataTypes), log: log}

	v1 := http.NewServeMux()
	v1.HandleFunc("POST /v1/runs", a.submit)
	v1.HandleFunc("GET /v1/runs/{id}", a.status)
	v1.HandleFunc("GET /v1/datatypes", a.listDataTypes)
	v1.Handle("/v1/runs", methodNotAllowed("POST"))
	v1.Handle("/v1/runs/{id}", methodNotAllowed("GET"))
	v1.Handle("/v1/datatypes", methodNotAllowed("GET"))
	v1.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.Handle("/v1/", v.Middleware("sfconnector", v1))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return logRequests(log, root)
}

// methodNotAllowed answers a known path asked with the wrong method; the
// more specific method patterns take the right ones.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
	})
}

// runRequest is the body of POST /v1/runs.
type runRequest struct {
	DataType string `json:"dataType"`
}

// runAccepted is the answer to POST /v1/runs.
type runAccepted struct {
	RunID    string          `json:"runId"`
	DataType string          `json:"dataType"`
	Status   runstate.Status `json:"status"`
	Location string          `json:"location"`
}

// errBadBody is wrapped by every error of decodeRunRequest that is the
// caller's fault.
var errBadBody = errors.New("bad request body")

// decodeRunRequest reads exactly one JSON object with a non-empty string
// "dataType" and nothing else. Read errors (a body over the limit among
// them) are returned unwrapped so the caller can tell them apart.
func decodeRunRequest(body io.Reader) (runRequest, error) {
	var req runRequest
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return req, err
		}
		return req, fmt.Errorf("%w: %s", errBadBody, describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return req, err
		}
		return req, fmt.Errorf("%w: data after the JSON object", errBadBody)
	}
	if req.DataType == "" {
		return req, fmt.Errorf("%w: dataType is required", errBadBody)
	}
	return req, nil
}

// describeJSONError says what is wrong with a body without quoting it.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		return "dataType must be a string and the body a JSON object"
	default:
		return "expected a JSON object with the one field dataType"
	}
}

func (a *api) submit(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the request as application/json")
		return
	}
	req, err := decodeRunRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("the body may be at most %d bytes", maxBodyBytes))
		return
	case errors.Is(err, errBadBody):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_request", "could not read the body")
		return
	}
	// The allowlist is checked here, before anything is written, and the
	// answer names no internals: the caller's value is not echoed either.
	if !slices.Contains(a.dataTypes, req.DataType) {
		writeError(w, http.StatusBadRequest, "unknown_data_type",
			"unknown data type; GET /v1/datatypes lists the accepted ones")
		return
	}

	runID, err := a.runs.Submit(r.Context(), req.DataType)
	if err != nil {
		a.log.ErrorContext(r.Context(), "submit failed", "dataType", req.DataType, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"the run could not be queued; try again later")
		return
	}
	noteRunID(r.Context(), runID)
	loc := "/v1/runs/" + runID
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusAccepted, runAccepted{
		RunID: runID, DataType: req.DataType, Status: runstate.Queued, Location: loc,
	})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !isCanonicalUUID(id) {
		writeError(w, http.StatusBadRequest, "invalid_run_id", "a run id is a UUID")
		return
	}
	noteRunID(r.Context(), id)
	rec, err := a.runs.Status(r.Context(), id)
	switch {
	case errors.Is(err, runstate.ErrNotFound):
		writeError(w, http.StatusNotFound, "run_not_found", "no run with this id")
		return
	case err != nil:
		a.log.ErrorContext(r.Context(), "status failed", "runId", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"the run state could not be read; try again later")
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (a *api) listDataTypes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"dataTypes": a.dataTypes})
}

// isCanonicalUUID accepts only the 36-character lower-case form, the one
// the connector issues, so that one run has one URL.
func isCanonicalUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requestLog carries what a handler learns for the request's log line.
type requestLog struct{ runID string }

type requestLogKey struct{}

func noteRunID(ctx context.Context, id string) {
	if l, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		l.runID = id
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request: method, path, status, duration
// and run id. Headers and the query string are left out, so no token can
// reach the log.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		note := &requestLog{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestLogKey{}, note)))

		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
		}
		if note.runID != "" {
			attrs = append(attrs, slog.String("runId", note.runID))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}
