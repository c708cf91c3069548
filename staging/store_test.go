package staging_test

import (
	"os"
	"testing"

	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/staging"
	"github.com/techwolf/sfconnector/staging/stagingtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

func newDirStore(t *testing.T) *staging.DirStore {
	t.Helper()
	s, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDirStoreConformance(t *testing.T) {
	stagingtest.Run(t, func(t *testing.T) staging.Store { return newDirStore(t) })
}

func TestS3StoreConformance(t *testing.T) {
	srv := s3test.Shared(t)
	stagingtest.Run(t, func(t *testing.T) staging.Store { return srv.Store(t) })
}
