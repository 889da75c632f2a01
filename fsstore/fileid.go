package fsstore

import (
	"io/fs"
	"syscall"
	"time"
)

// fileID is what a stat(2) says of a blob file: the file (device and inode)
// and the size and modification time its bytes and blob record go with.
type fileID struct {
	dev, ino uint64
	size     int64
	mtimeNS  int64
	dir      bool
}

func idOf(fi fs.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtimeNS: fi.ModTime().UnixNano(), dir: fi.IsDir()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino) // not uint64 on every platform
	}
	return id
}

// sameFile tells whether id and o are one file with the same bytes. An
// inode number is not reused while a descriptor keeps its file open, so a
// path whose stat matches an open file's names that very file.
func (id fileID) sameFile(o fileID) bool { return id == o }

func (id fileID) modTime() time.Time { return time.Unix(0, id.mtimeNS).UTC() }
