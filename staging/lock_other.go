//go:build !unix

package staging

import (
	"errors"
	"os"
)

// tryLock is not available here: DirStore's conditional puts need flock(2).
func tryLock(f *os.File) (bool, error) {
	return false, errors.New("staging: file locking is not supported on this system")
}

func unlockFile(f *os.File) {}
