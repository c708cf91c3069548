package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/staging"
)

// source says where the staged runs are: a local directory, or the bucket
// of a tenant config.
type source struct {
	dir, config, keystore, basePath string
}

func (s source) open(ctx context.Context) (staging.Store, staging.Layout, error) {
	var tenant *connector.TenantConfig
	if s.config != "" {
		f, err := os.Open(s.config)
		if err != nil {
			return nil, staging.Layout{}, err
		}
		defer f.Close()
		if tenant, err = connector.LoadTenantConfig(f); err != nil {
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
		store, err := tenantStore(ctx, tenant, s.keystore)
		return store, layout, err
	}
	return nil, layout, errors.New("say where the runs are: -dir DIR, or -config and -keystore")
}

// tenantStore opens the tenant's bucket with the S3 keys from the keystore.
func tenantStore(ctx context.Context, cfg *connector.TenantConfig, keystore string) (staging.Store, error) {
	ks := dirKeystore(keystore)
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
		AccessKey: string(access),
		SecretKey: string(secret),
	})
}

// dirKeystore reads the secret called name from the file DIR/name.
type dirKeystore string

func (d dirKeystore) Secret(_ context.Context, name string) ([]byte, error) {
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := root.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("keystore: no secret %q", name)
	}
	return bytes.TrimSpace(b), nil
}
