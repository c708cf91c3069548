//go:build linux

package staging

import (
	"os"
	"syscall"
	"unsafe"
)

func setXattr(path, name, value string) error {
	return syscall.Setxattr(path, name, []byte(value), 0)
}

// getXattr reads an attribute of the open file, so it belongs to the same
// version of the object as the file's content.
func getXattr(f *os.File, name string) (string, error) {
	attr, err := syscall.BytePtrFromString(name)
	if err != nil {
		return "", err
	}
	var buf [64]byte
	var n uintptr
	var errno syscall.Errno
	ctrl := func(fd uintptr) {
		n, _, errno = syscall.Syscall6(syscall.SYS_FGETXATTR, fd,
			uintptr(unsafe.Pointer(attr)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return "", err
	}
	if err := rc.Control(ctrl); err != nil {
		return "", err
	}
	if errno != 0 {
		return "", errno
	}
	return string(buf[:n]), nil
}
