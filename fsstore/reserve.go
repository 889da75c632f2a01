package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The reserve is a file of preallocated space that a full file system gives
// back to the operations that free space: see the package documentation's
// "Full file system".

// releaseReserve removes the reserve file, giving its space back to the file
// system, and reports whether there was one. The caller holds meta.lock
// exclusively, so no restoreReserve takes the space back meanwhile.
func (s *Store) releaseReserve() bool {
	if s.reserveSize <= 0 {
		return false
	}
	if err := os.Remove(s.reserveFile()); err != nil {
		return false
	}
	_ = s.syncDir(s.dir)
	return true
}

// restoreReserve makes the reserve file if it is missing and there is room
// for it; without room it leaves no partial file and returns the error. It
// takes meta.lock exclusively, so that it never takes back space that an
// operation has just released and is about to use.
func (s *Store) restoreReserve(ctx context.Context) error {
	if s.reserveSize <= 0 {
		return nil
	}
	if _, err := os.Lstat(s.reserveFile()); err == nil {
		return nil
	}
	return s.write(ctx, func() error {
		path := s.reserveFile()
		if _, err := os.Lstat(path); err == nil {
			return nil
		}
		f, err := s.createTemp(s.dir)
		if err != nil {
			return err
		}
		defer os.Remove(f.Name()) // linked into place, or abandoned
		if err := allocate(f, s.reserveSize); err != nil {
			f.Close()
			return fmt.Errorf("fsstore: reserve: %w", err)
		}
		if err := s.linkNew(f, path); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("fsstore: reserve: %w", err)
		}
		return nil
	})
}
