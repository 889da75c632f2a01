package fsstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ciartifacts/jobartifacts"
)

// tempPrefix starts the name of every temporary file. No stored file name
// contains '~' (keys may not, and nameFor escapes it), so temporary files
// can never be mistaken for data.
const tempPrefix = ".tmp~"

// maxEscapedName bounds names made by nameFor, well under NAME_MAX (255)
// with room for a suffix.
const maxEscapedName = 200

// nameFor turns an arbitrary string (a ref, a project path) into a file name:
// bytes outside [A-Za-z0-9._-], and a leading '.', become %XX. The mapping
// is one-to-one; overlong results become "%sha256-<hex>", which no escaped
// name can equal because '%' is always followed by two hex digits there.
func nameFor(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		plain := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' && i > 0
		if plain {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() > maxEscapedName {
		sum := sha256.Sum256([]byte(s))
		return "%sha256-" + hex.EncodeToString(sum[:])
	}
	return b.String()
}

// notFound turns a missing file into jobartifacts.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("fsstore: %s: %w", what, jobartifacts.ErrNotFound)
	}
	return fmt.Errorf("fsstore: %s: %w", what, err)
}

// readJSON decodes the file at path into v. A missing file is ErrNotFound.
func readJSON(path, what string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return notFound(err, what)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("fsstore: %s: %s: %w", what, path, err)
	}
	return nil
}

// writeJSON replaces the file at path with v's JSON, atomically.
func (s *Store) writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("fsstore: encode %s: %w", path, err)
	}
	return s.writeFile(path, append(data, '\n'))
}

// writeFile replaces the file at path with data: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func (s *Store) writeFile(path string, data []byte) (err error) {
	f, err := s.createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("fsstore: write %s: %w", path, err)
	}
	return s.commit(f, path)
}

// commit makes the written temporary file f the file at path and closes f.
// On error the caller removes f.
func (s *Store) commit(f *os.File, path string) error {
	if s.sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsstore: sync %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fsstore: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	return s.syncDir(filepath.Dir(path))
}

// removeFile removes the file at path, durably. A missing file is
// fs.ErrNotExist.
func (s *Store) removeFile(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(path))
}

// createTemp creates a temporary file in dir, creating dir if needed. A
// concurrent removal of an emptied directory (DeleteBlob tidies up) can
// make the creation fail, so it is retried.
func (s *Store) createTemp(dir string) (*os.File, error) {
	var err error
	for range 8 {
		if err = s.ensureDir(dir); err != nil {
			continue
		}
		var f *os.File
		if f, err = os.CreateTemp(dir, tempPrefix+"*"); err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return nil, fmt.Errorf("fsstore: create temporary file: %w", err)
}

// ensureDir creates dir and its missing parents, fsyncing each new
// directory's parent so that the new entries survive a power loss.
func (s *Store) ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", dir, syscall.ENOTDIR)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := s.ensureDir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return s.syncDir(parent)
}

// syncDir fsyncs a directory, making renames and removals in it durable.
func (s *Store) syncDir(dir string) error {
	if !s.sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsstore: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsstore: sync dir %s: %w", dir, err)
	}
	return nil
}

// removeTempFiles removes the temporary files under root that a crashed
// writer left. Only a Store alone on the directory may call it.
func removeTempFiles(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// isTemp reports whether a directory entry is a temporary file.
func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// writeZeros writes size zero bytes to f, allocating them.
func writeZeros(f *os.File, size int64) error {
	zeros := make([]byte, min(size, 64<<10))
	for size > 0 {
		n, err := f.Write(zeros[:min(size, int64(len(zeros)))])
		if err != nil {
			return err
		}
		size -= int64(n)
	}
	return nil
}

// linkNew makes the written temporary file f the file at path only if
// there is no file there yet, and closes f: fsync, close, link(2), fsync of
// the directory. link fails with EEXIST (fs.ErrExist) atomically when path
// exists, whoever made it. The caller removes f's name, whether or not the
// link was made.
func (s *Store) linkNew(f *os.File, path string) error {
	if s.sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("fsstore: sync %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fsstore: write %s: %w", path, err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(path))
}
