//go:build linux && (amd64 || arm64)

package fsstore

import (
	"io/fs"
	"syscall"
	"unsafe"
)

// pathStat is stat(2) of one path, again and again: a warm OpenBlob stats
// its idle file's path every time. syscall.Stat copies the path into a new
// NUL-terminated string on each call; pathStat makes that string once.
// The zero value stats nothing; make one with newPathStat.
type pathStat struct {
	path  string
	cpath *byte // path, NUL-terminated; nil if path holds a NUL
}

func newPathStat(path string) pathStat {
	cpath, _ := syscall.BytePtrFromString(path)
	return pathStat{path: path, cpath: cpath}
}

// stat is statPath(ps.path), with no allocation.
func (ps pathStat) stat() (fileID, error) {
	if ps.cpath == nil {
		return statPath(ps.path)
	}
	var st syscall.Stat_t
	cwd := atFDCWD
	for {
		_, _, errno := syscall.Syscall6(sysFstatat, uintptr(cwd), uintptr(unsafe.Pointer(ps.cpath)), uintptr(unsafe.Pointer(&st)), 0, 0, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return fileID{}, &fs.PathError{Op: "stat", Path: ps.path, Err: errno}
		}
		return idOfStat(&st), nil
	}
}

// atFDCWD is AT_FDCWD: fstatat(2) of a path relative to the working
// directory, as stat(2).
const atFDCWD = -0x64
