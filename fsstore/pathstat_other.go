//go:build !linux || !(amd64 || arm64)

package fsstore

// pathStat is stat(2) of one path, again and again (see the Linux
// version, which makes its NUL-terminated copy once).
type pathStat struct{ path string }

func newPathStat(path string) pathStat { return pathStat{path: path} }

func (ps pathStat) stat() (fileID, error) { return statPath(ps.path) }
