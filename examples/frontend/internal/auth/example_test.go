package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
	"github.com/techwolf/sfconnector/examples/internal/authtest"
)

// A validator in front of a handler: the issuer's key set is fetched over
// HTTPS on first use, and a token without the scope is refused with 403.
func Example() {
	iss, err := authtest.NewIssuer("reports-api", "reports.read")
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	keys, err := auth.NewKeySet(iss.JWKSURL(), &auth.KeySetOptions{HTTPClient: iss.Client()})
	if err != nil {
		panic(err)
	}
	v, err := auth.NewValidator(auth.Config{
		Issuer:   iss.Issuer(),
		Audience: "reports-api",
		Scope:    "reports.read",
		Keys:     keys,
	})
	if err != nil {
		panic(err)
	}
	h := v.Middleware("reports", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.ClientID)
	}))

	call := func(token string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body.String())
			return
		}
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	}
	call(iss.SignES256(iss.Claims()))
	noScope := iss.Claims()
	noScope["scope"] = "reports.write"
	call(iss.SignRS256(noScope))
	call("not-a-token")

	_, err = v.Validate(context.Background(), "")
	fmt.Println(err)
	// Output:
	// 200 hello ingest-client
	// 403 Bearer realm="reports", error="insufficient_scope", error_description="scope \"reports.read\" not granted", scope="reports.read"
	// 401 Bearer realm="reports", error="invalid_token", error_description="malformed token"
	// auth: invalid token: no token
}
