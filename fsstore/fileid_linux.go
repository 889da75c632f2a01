package fsstore

import (
	"io/fs"
	"os"
	"syscall"
)

// statFile is fstat(2) of f, with no FileInfo made.
func statFile(f *os.File) (fileID, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(int(f.Fd()), &st)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return fileID{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
		}
		return idOfStat(&st), nil
	}
}

// statPath is stat(2) of path, with no FileInfo made.
func statPath(path string) (fileID, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return fileID{}, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		return idOfStat(&st), nil
	}
}

func idOfStat(st *syscall.Stat_t) fileID {
	return fileID{
		dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, // not uint64 on every platform (mips)
		mtimeNS: st.Mtim.Nano(),
		dir:     st.Mode&syscall.S_IFMT == syscall.S_IFDIR,
	}
}
