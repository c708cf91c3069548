// Package setup holds the few lines of configuration the example programs
// share: reading a tenant config from a file and opening the store runs
// are staged in.
package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/staging"
)

// LoadTenant reads and checks a tenant config file. insecureLoopback
// permits http:// addresses on loopback, for the simulator and a local S3
// server. localStaging says the runs go to a local directory, so the S3
// bucket's fields are not needed.
func LoadTenant(path string, insecureLoopback, localStaging bool) (*connector.TenantConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := connector.LoadTenantConfigOptions(f, connector.ConfigOptions{
		AllowInsecureLoopback: insecureLoopback,
		LocalStaging:          localStaging,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Store opens the store runs are staged in: the directory dir when it is
// not empty, else the tenant's bucket with the S3 keys from ks.
func Store(ctx context.Context, dir string, cfg *connector.TenantConfig, ks connector.Keystore, insecureLoopback bool) (staging.Store, error) {
	if dir != "" {
		return staging.NewDirStore(dir)
	}
	if cfg == nil || ks == nil {
		return nil, errors.New("no staging directory and no tenant config with a keystore")
	}
	access, err := ks.Secret(ctx, cfg.S3AccessKeyAlias)
	if err != nil {
		return nil, err
	}
	secret, err := ks.Secret(ctx, cfg.S3SecretKeyAlias)
	if err != nil {
		return nil, err
	}
	return staging.NewS3Store(ctx, staging.S3Options{
		Bucket:    cfg.S3Bucket,
		Region:    cfg.S3Region,
		Endpoint:  cfg.S3Endpoint,
		PathStyle: cfg.S3Endpoint != "",
		AllowHTTP: insecureLoopback,
		AccessKey: strings.TrimSpace(string(access)),
		SecretKey: strings.TrimSpace(string(secret)),
	})
}
