package runstate

import (
	"os"
	"testing"

	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/staging"
)

func TestMain(m *testing.M) {
	s3Stores = append(s3Stores, storeKind{"s3", func(t testing.TB) staging.Store {
		return s3test.Shared(t).Store(t)
	}})
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}
