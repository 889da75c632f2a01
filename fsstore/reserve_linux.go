package fsstore

import (
	"errors"
	"os"
	"syscall"
)

// allocate gives f size bytes of allocated space: fallocate where the file
// system has it, written zeros where it has not.
func allocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return writeZeros(f, size)
	}
	return err
}
