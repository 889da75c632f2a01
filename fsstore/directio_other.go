//go:build !linux

package fsstore

import (
	"errors"
	"os"
)

// setDirect reports that direct I/O is not used here: blobs are written
// through the page cache.
func setDirect(f *os.File, on bool) error {
	if !on {
		return nil
	}
	return errors.ErrUnsupported
}

// openDirect reports that direct I/O is not used here.
func openDirect(name string) (*os.File, error) { return nil, errors.ErrUnsupported }

// preallocate reports that space is not allocated ahead here.
func preallocate(f *os.File, off, n int64) error { return errors.ErrUnsupported }
