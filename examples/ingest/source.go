package main

import (
	"context"
	"errors"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/internal/setup"
	"github.com/techwolf/sfconnector/staging"
)

// source says where the staged runs are: a local directory, or the bucket
// of a tenant config.
type source struct {
	dir, config, keystore, basePath string
	insecureLoopback                bool // permit an http S3_endpoint on loopback
}

func (s source) open(ctx context.Context) (staging.Store, staging.Layout, error) {
	var (
		tenant *connector.TenantConfig
		ks     connector.Keystore
		err    error
	)
	if s.config != "" {
		if tenant, err = setup.LoadTenant(s.config, s.insecureLoopback, s.dir != ""); err != nil {
			return nil, staging.Layout{}, err
		}
	}
	if s.keystore != "" {
		ks = connector.DirKeystore{Dir: s.keystore}
	}
	layout := staging.Layout{BasePath: s.basePath}
	if layout.BasePath == "" && tenant != nil {
		layout.BasePath = tenant.S3BasePath
	}
	if s.dir == "" && (tenant == nil || ks == nil) {
		return nil, layout, errors.New("say where the runs are: -dir DIR, or -config and -keystore")
	}
	store, err := setup.Store(ctx, s.dir, tenant, ks, s.insecureLoopback)
	return store, layout, err
}

// where names the store for messages: the directory or the bucket.
func (s source) where() string {
	if s.dir != "" {
		return s.dir
	}
	return "the tenant's bucket"
}
