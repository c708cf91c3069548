//go:build !linux

package staging

import (
	"errors"
	"os"
)

var errNoXattr = errors.New("extended attributes not supported")

func setXattr(path, name, value string) error { return errNoXattr }

func getXattr(f *os.File, name string) (string, error) { return "", errNoXattr }
