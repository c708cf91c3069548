package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/staging"
)

// source says where the staged runs are: a local directory, or the bucket
// of a tenant config.
type source struct {
	dir, config, keystore, basePath string
	insecureLoopback                bool // permit an http S3_endpoint on loopback
}

func (s source) open(ctx context.Context) (staging.Store, staging.Layout, error) {
	var tenant *connector.TenantConfig
	if s.config != "" {
		f, err := os.Open(s.config)
		if err != nil {
			return nil, staging.Layout{}, err
		}
		defer f.Close()
		if tenant, err = connector.LoadTenantConfigOptions(f, connector.ConfigOptions{
			AllowInsecureLoopback: s.insecureLoopback,
		}); err != nil {
			return nil, staging.Layout{}, err
		}
	}
	layout := staging.Layout{BasePath: s.basePath}
	if layout.BasePath == "" && tenant != nil {
		layout.BasePath = tenant.S3BasePath
	}

	switch {
	case s.dir != "":
		store, err := staging.NewDirStore(s.dir)
		return store, layout, err
	case tenant != nil:
		if s.keystore == "" {
			return nil, layout, errors.New("-keystore is required with -config")
		}
		store, err := tenantStore(ctx, tenant, s.keystore, s.insecureLoopback)
		return store, layout, err
	}
	return nil, layout, errors.New("say where the runs are: -dir DIR, or -config and -keystore")
}

// tenantStore opens the tenant's bucket with the S3 keys from the keystore.
func tenantStore(ctx context.Context, cfg *connector.TenantConfig, keystore string, allowHTTP bool) (staging.Store, error) {
	ks := connector.DirKeystore{Dir: keystore}
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
		AllowHTTP: allowHTTP,
		AccessKey: strings.TrimSpace(string(access)),
		SecretKey: strings.TrimSpace(string(secret)),
	})
}
