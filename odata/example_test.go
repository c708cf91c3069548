package odata_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/techwolf/sfconnector/odata"
)

func ExampleQuery_Encode() {
	q := odata.Query{
		EntitySet: "EmpJob",
		Select:    []string{"userId", "startDate", "jobCode"},
		Filter: odata.And(
			odata.Ge("lastModifiedDateTime", odata.DateTimeOffset(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))),
			odata.Eq("department", odata.String("R&D")),
		),
		Paging:   odata.PagingSnapshot,
		PageSize: 500,
		FromDate: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	u, err := q.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
	// Output:
	// EmpJob?$format=json&$select=userId,startDate,jobCode&$filter=(lastModifiedDateTime%20ge%20datetimeoffset'2024-01-01T00:00:00Z')%20and%20(department%20eq%20'R%26D')&paging=snapshot&customPageSize=500&fromDate=1900-01-01
}

func ExampleParseDate() {
	t, err := odata.ParseDate("/Date(1454332153030+0200)/")
	if err != nil {
		panic(err)
	}
	fmt.Println(odata.FormatDateTimeOffset(t))
	fmt.Println(odata.FormatDate(t))
	// Output:
	// 2016-02-01T13:09:13.030Z
	// 2016-02-01
}

func ExampleClient_Pages() {
	// A two-page service standing in for SuccessFactors.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("$skiptoken") == "" {
			fmt.Fprintf(w, `{"d":{"results":[{"userId":"a"},{"userId":"b"}],"__next":"%s/odata/v2/User?$skiptoken=2"}}`,
				"https://"+r.Host)
			return
		}
		fmt.Fprint(w, `{"d":{"results":[{"userId":"c"}]}}`)
	}))
	defer srv.Close()

	// In production the http.Client carries the credentials, e.g. an
	// oauth2 transport from sfauth.
	c, err := odata.NewClient(srv.URL+"/odata/v2", srv.Client(), nil)
	if err != nil {
		panic(err)
	}
	q := odata.Query{EntitySet: "User", Select: []string{"userId"}}
	for page, err := range c.Pages(context.Background(), q) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(page.Index, len(page.Records), string(page.Records[0]))
	}
	// Output:
	// 0 2 {"userId":"a"}
	// 1 1 {"userId":"c"}
}
