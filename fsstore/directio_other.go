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
