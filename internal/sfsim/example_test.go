package sfsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/techwolf/sfconnector/internal/sfsim"
)

// A simulator on loopback, read page by page with snapshot paging.
func Example() {
	sim := sfsim.New(sfsim.Options{Users: 25, Seed: 1})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	token := sim.IssueToken("10000001")

	next := srv.URL + "/odata/v2/User?$format=json&$select=userId&paging=snapshot&customPageSize=10"
	for page := 1; next != ""; page++ {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		var env struct {
			D struct {
				Results []map[string]any `json:"results"`
				Next    string           `json:"__next"`
			} `json:"d"`
		}
		json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		fmt.Printf("page %d: %d users, first %s\n", page, len(env.D.Results), env.D.Results[0]["userId"])
		next = env.D.Next
	}
	// Output:
	// page 1: 10 users, first 10000001
	// page 2: 10 users, first 10000011
	// page 3: 5 users, first 10000021
}

// Faults make chosen requests fail: here the second page of User answers
// 429 with Retry-After once.
func ExampleServer_Inject() {
	sim := sfsim.New(sfsim.Options{Users: 25, NoAuth: true})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Kind: sfsim.FaultStatus, Status: 429, RetryAfter: "120"})

	first, _ := http.Get(srv.URL + "/odata/v2/User?$select=userId&customPageSize=10")
	var env struct {
		D struct {
			Next string `json:"__next"`
		} `json:"d"`
	}
	json.NewDecoder(first.Body).Decode(&env)
	first.Body.Close()
	for range 2 {
		resp, _ := http.Get(env.D.Next)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Output:
	// 429 120
	// 200
}
